package phase1

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/iked/iked/isakmp"
	"github.com/iked/iked/policymgr"
)

// TestCapLifetime: the responder caps the phase 1 lifetime the initiator
// proposed by the policy's (and by policymgr.MaxLifetime) and fills it in
// when absent; settleLifetime then raises it to the minimum (message 47).
func TestCapLifetime(t *testing.T) {
	conn := func(life time.Duration) *policymgr.Connection {
		return &policymgr.Connection{IKE: &policymgr.Phase1{Transforms: []policymgr.Phase1Transform{
			{Cipher: isakmp.EncAESCBC, KeyLength: 128, Hash: isakmp.HashSHA2256, Group: isakmp.GroupMODP2048, Lifetime: life}}}}
	}
	const min = 5 * time.Minute
	tests := []struct {
		name       string
		ours       time.Duration
		prop, kb   uint64
		want       uint64
		wantNum    int // 0: a non-catalog warning; -1: no message
		wantSubstr string
	}{
		{"shorter than ours", 8 * time.Hour, 3600, 0, 3600, -1, ""},
		{"equal", 8 * time.Hour, 28800, 0, 28800, -1, ""},
		{"longer than ours", 8 * time.Hour, 86400, 0, 28800, 0, "prop=86400, max=28800"},
		{"2^32-1 s", 8 * time.Hour, math.MaxUint32, 0, 28800, 0, "max=28800"},
		{"2^64-1 s", policymgr.MaxLifetime, math.MaxUint64, 0, uint64(policymgr.MaxLifetime / time.Second), 0, "max=2592000"},
		{"absent", 2 * time.Hour, 0, 0, 7200, -1, ""},
		{"volume only", 2 * time.Hour, 0, 100000, 7200, -1, ""},
		{"below the minimum", 8 * time.Hour, 60, 0, 300, 47, "prop=60, min=300"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := Transform{Cipher: isakmp.EncAESCBC, KeyLength: 128, Hash: isakmp.HashSHA2256, Group: isakmp.GroupMODP2048,
				LifeSeconds: tt.prop, LifeKBytes: tt.kb}
			c := conn(tt.ours)
			msgs := append(capLifetime(&tr, c), settleLifetime(&tr, c, min)...)
			if tr.LifeSeconds != tt.want {
				t.Errorf("lifetime %d s, want %d", tr.LifeSeconds, tt.want)
			}
			if tt.wantNum < 0 {
				if len(msgs) != 0 {
					t.Errorf("messages %v", msgs)
				}
				return
			}
			if len(msgs) != 1 || msgs[0].Num != tt.wantNum || !strings.Contains(msgs[0].Text, tt.wantSubstr) {
				t.Errorf("messages %v, want #%d with %q", msgs, tt.wantNum, tt.wantSubstr)
			}
		})
	}
}

// TestTransformLifetimeSaturates: a Life Duration beyond what a
// time.Duration holds saturates instead of overflowing to a negative or
// short lifetime.
func TestTransformLifetimeSaturates(t *testing.T) {
	for _, s := range []uint64{9_300_000_000, 1 << 40, math.MaxInt64, math.MaxUint64} {
		if got := (Transform{LifeSeconds: s}).Lifetime(); got != math.MaxInt64 {
			t.Errorf("%d s: %v, want the largest Duration", s, got)
		}
	}
	if got := (Transform{LifeSeconds: 9_000_000_000}).Lifetime(); got != 9_000_000_000*time.Second {
		t.Errorf("9e9 s: %v", got)
	}
	if got := (Transform{}).Lifetime(); got != 0 {
		t.Errorf("none: %v", got)
	}
}

// TestPeerLifetimeCapped: an initiator proposing 24 h to a responder whose
// policy says 1 h gets an ISAKMP SA of 1 h on both sides.
func TestPeerLifetimeCapped(t *testing.T) {
	a := side{mode: "main", auth: "psk", psk: "k", ciphers: "aes128", hashes: "sha256", groups: "modp2048", self: "a", lifetime: "24h"}
	b := a
	b.self, b.lifetime = "b", "1h"
	o := negotiateSides(t, a, b)
	if !o.iEst || !o.rEst {
		t.Fatalf("not established\n%s", o.logText())
	}
	if i, r := o.i.SA.Transform.Lifetime(), o.r.SA.Transform.Lifetime(); i != time.Hour || r != time.Hour {
		t.Errorf("lifetimes: initiator %v, responder %v, want 1h both", i, r)
	}
}

package ikecrypto

import (
	"crypto/rand"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// BenchmarkResponderFloor is the cryptography of one SA pair as
// make bench-responder has a responder do it (docs/performance.md): Main
// Mode with a pre-shared key, AES-128 and HMAC-SHA2-256, then one Quick
// Mode without PFS making two ESP SAs (AES-128, HMAC-SHA2-256). Per pair:
// one DH key generation and one shared secret; SKEYID and its three
// children, the AES key and phase 1 IV; HASH_I checked and HASH_R made; the
// NAT-D hashes (two received, two sent); HASH(1), HASH(2), HASH(3); KEYMAT
// for both SAs; AES-CBC over MM5, MM6, QM1, QM2 and QM3 (about 100, 100,
// 300, 300 and 60 bytes). It is the floor a responder cannot go below
// without faster primitives; everything else iked spends per pair (sockets,
// decoding, the loop, logging, allocation) is on top of it. cpu-ms/op is
// the process's CPU time per pair (getrusage), the figure to compare with
// bench-responder's on a machine whose other load makes ns/op (wall time)
// meaningless.
func BenchmarkResponderFloor(b *testing.B) {
	for _, id := range []GroupID{GroupECP256, GroupMODP2048} {
		b.Run(strconv.Itoa(int(id)), func(b *testing.B) { benchFloor(b, id) })
	}
}

func benchFloor(b *testing.B, id GroupID) {
	g, err := NewGroup(id)
	if err != nil {
		b.Fatal(err)
	}
	peer, err := g.Generate(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	gxi := peer.PublicBytes()
	p := mustPRF(b, HashSHA2_256)
	psk := []byte("bench-responder: not a secret")
	ni, nr, ci, cr := make([]byte, 32), make([]byte, 32), make([]byte, 8), make([]byte, 8)
	sa, id1, addr := make([]byte, 52), make([]byte, 8), make([]byte, 18)
	qmRest, spi := make([]byte, 200), make([]byte, 4)
	msgs := []int{112, 112, 304, 304, 64}
	buf := make([]byte, 304)
	cpu0 := processCPU()
	for b.Loop() {
		k, err := g.Generate(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		gxr := k.PublicBytes()
		gxy, err := k.SharedSecret(gxi)
		if err != nil {
			b.Fatal(err)
		}
		for range 4 {
			p.Hash(ci, cr, addr)
		}
		skeyid := SKEYIDPreSharedKey(p, psk, ni, nr)
		km := DeriveKeyMaterial(p, skeyid, gxy, ci, cr)
		_, c, err := EncryptionKey(p, km.SKEYIDe, EncryptionAES, 128)
		if err != nil {
			b.Fatal(err)
		}
		iv := Phase1IV(p, gxi, gxr, 16)
		HashI(p, skeyid, gxi, gxr, ci, cr, sa, id1)
		HashR(p, skeyid, gxi, gxr, ci, cr, sa, id1)
		QuickModeHash1(p, km.SKEYIDa, 1, qmRest)
		QuickModeHash2(p, km.SKEYIDa, 1, ni, qmRest)
		QuickModeHash3(p, km.SKEYIDa, 1, ni, nr)
		for range 2 {
			SAKeys(p, km.SKEYIDd, nil, ProtoESP, spi, ni, nr, 16, 32)
		}
		for i, n := range msgs {
			if i%2 == 0 {
				err = c.DecryptCBC(buf[:n], buf[:n], iv)
			} else {
				err = c.EncryptCBC(buf[:n], buf[:n], iv)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A pluto 4.10 log excerpt (plutodebug "base crypt") of one phase 1 and one
// Quick Mode as initiator: the IV hash and the two KEYMATs are read, and
// only keys that equal them (in iked's directions) are accepted.
const plutoExcerpt = `| new IV hash SHA2_256 final length 32
|   50 8d b0 d7  1b 2e a9 6d  8b ad 79 38  0c 37 39 67   P......m..y8.79g
|   94 ef f6 23  a8 ad 6d 84  d7 59 31 87  ba 8a 8c bc   ...#..m..Y1.....
| opening output PBS reply packet
| ESP KEYMAT
|   inbound:
|   21 82 05 0f  9b 3a 0f e1  82 b5 51 3a  22 4d 88 9b   !....:....Q:"M..
|   0e 33 6b ad  c6 5f b9 07  6d fc 90 9b  2f 73 c6 f6   .3k.._..m.../s..
|   33 c8 7d a2  04 e5 ac cf  0f 7f fc da  2e 0c 87 e6   3.}.............
|   outbound:
|   8b 5b 50 a9  43 25 36 74  2d ca b0 6f  3d 54 c5 6c   .[P.C%6t-..o=T.l
|   eb 71 0a 14  24 75 dd a8  ab 67 02 16  c4 8c ef fa   .q..$u...g......
|   85 00 97 d4  06 fd bf ef  0a bb 4c f4  54 49 83 06   ..........L.TI..
| kernel: install_ipsec_sa() for #2: inbound and outbound
`

const ikedKeys = `{"level":"keys","msg":"ISAKMP SA keys","SKEYID_d":"aa","initial IV":"508db0d71b2ea96d8bad79380c373967"}
{"level":"keys","msg":"IPsec SA keys","direction":"outbound","flow":"responder","encryption key":"2182050f9b3a0fe182b5513a224d889b","integrity key":"0e336badc65fb9076dfc909b2f73c6f633c87da204e5accf0f7ffcda2e0c87e6"}
{"level":"keys","msg":"IPsec SA keys","direction":"inbound","flow":"initiator","encryption key":"8b5b50a9432536742dcab06f3d54c56c","integrity key":"eb710a142475dda8ab670216c48ceffa850097d406fdbfef0abb4cf454498306"}
`

func write(t *testing.T, name, text string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlutoKeys(t *testing.T) {
	peer, err := readPluto(write(t, "pluto.log", plutoExcerpt))
	if err != nil {
		t.Fatal(err)
	}
	if len(peer.P1) != 1 || len(peer.P1[0].IV) != 32 || len(peer.Child) != 2 || len(peer.Child[0].Enc) != 48 {
		t.Fatalf("read %+v", peer)
	}
	ik, err := readIked(write(t, "iked.log", ikedKeys))
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := compare(ik, peer, false); err != nil {
		t.Fatalf("same keys: %v", err)
	} else {
		t.Log(msg)
	}
	// One bit of one key, the IV, or the directions swapped: refused.
	for _, bad := range []func(k *keys){
		func(k *keys) { k.Child[1].Integ[31] ^= 1 },
		func(k *keys) { k.P1[0].IV[0] ^= 1 },
		func(k *keys) { k.Child[0].Dir, k.Child[1].Dir = k.Child[1].Dir, k.Child[0].Dir },
	} {
		ik, _ := readIked(write(t, "iked.log", ikedKeys))
		bad(ik)
		if _, err := compare(ik, peer, false); err == nil {
			t.Errorf("a changed key was accepted")
		}
	}
}

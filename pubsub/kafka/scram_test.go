package kafka

import (
	"strings"
	"testing"
)

// TestSCRAMSHA256Vector runs the exchange of RFC 7677, section 3.
func TestSCRAMSHA256Vector(t *testing.T) {
	c := newSCRAMClient(scramSHA256)
	if err := c.begin("user", "pencil", "rOprNGfwEbeRWgbNEkqO"); err != nil {
		t.Fatal(err)
	}
	first, err := c.Step("")
	if err != nil || first != "n,,n=user,r=rOprNGfwEbeRWgbNEkqO" {
		t.Fatalf("client-first = %q, %v", first, err)
	}
	final, err := c.Step("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
	want := "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
	if err != nil || final != want {
		t.Fatalf("client-final = %q, %v; want %q", final, err, want)
	}
	if c.Done() {
		t.Fatal("Done before the server's signature was checked")
	}
	if _, err := c.Step("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="); err != nil || !c.Done() {
		t.Fatalf("server-final: %v, done %v", err, c.Done())
	}
}

func TestSCRAMRejects(t *testing.T) {
	start := func() *scramClient {
		c := newSCRAMClient(scramSHA512)
		_ = c.begin("a=b,c", "pw", "nonce")
		first, _ := c.Step("")
		if first != "n,,n=a=3Db=2Cc,r=nonce" {
			t.Fatalf("client-first = %q: the user name is not escaped", first)
		}
		return c
	}
	for name, serverFirst := range map[string]string{
		"foreign nonce":  "r=other,s=c2FsdA==,i=4096",
		"same nonce":     "r=nonce,s=c2FsdA==,i=4096",
		"bad salt":       "r=nonceX,s=!!,i=4096",
		"bad iterations": "r=nonceX,s=c2FsdA==,i=0",
		"server error":   "e=unknown-user",
		"malformed":      "garbage",
	} {
		if _, err := start().Step(serverFirst); err == nil {
			t.Errorf("%s: server-first %q accepted", name, serverFirst)
		}
	}
	c := start()
	if _, err := c.Step("r=nonceX,s=c2FsdA==,i=16"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Step("v=" + strings.Repeat("A", 88)); err == nil || c.Done() {
		t.Errorf("a wrong server signature was accepted")
	}
}

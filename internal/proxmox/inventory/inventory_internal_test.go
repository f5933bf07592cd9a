package inventory

import "testing"

func TestInvalidateCoalesces(t *testing.T) {
	inv := New(nil, Options{})
	for range 10 {
		inv.Invalidate()
	}
	if n := len(inv.kick); n != 1 {
		t.Fatalf("%d pending refresh requests, want 1", n)
	}
}

func TestChangeString(t *testing.T) {
	tests := map[Change]string{
		0:                             "none",
		Appeared:                      "appeared",
		StatusChanged | LockChanged:   "status|lock",
		NodeChanged | TemplateChanged: "node|template",
	}
	for c, want := range tests {
		if got := c.String(); got != want {
			t.Errorf("Change(%d).String() = %q, want %q", c, got, want)
		}
	}
}

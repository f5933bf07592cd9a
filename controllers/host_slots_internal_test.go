package controllers

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestHostSlotLimit(t *testing.T) {
	tests := []struct {
		name                 string
		workers, hosts, want int
	}{
		{"one host may use every worker", 16, 1, 16},
		{"with another host each may use half the workers", 16, 2, 8},
		{"with twenty hosts each may still use half", 16, 20, 8},
		{"an odd number of workers rounds up", 5, 3, 3},
		{"a single worker is never capped to none", 1, 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostSlotLimit(tt.workers, tt.hosts); got != tt.want {
				t.Errorf("hostSlotLimit(%d, %d) = %d, want %d", tt.workers, tt.hosts, got, tt.want)
			}
		})
	}
}

func TestHostSlotsWakeWaitersInOrder(t *testing.T) {
	key := func(n string) types.NamespacedName { return types.NamespacedName{Namespace: "team", Name: n} }
	var h hostSlots
	for _, n := range []string{"a", "b"} {
		if !h.acquire(key(n), 2) {
			t.Fatalf("%s got no slot with one free", n)
		}
	}
	for _, n := range []string{"c", "d", "c"} {
		if h.acquire(key(n), 2) {
			t.Fatalf("%s got a slot over the limit", n)
		}
	}
	var woken []string
	for range 3 {
		if next, ok := h.release(); ok {
			woken = append(woken, next.Name)
		}
	}
	if len(woken) != 2 || woken[0] != "c" || woken[1] != "d" {
		t.Errorf("woken = %v, want [c d] (in order, each once)", woken)
	}
	if !h.acquire(key("e"), 2) {
		t.Error("a slot freed by release was not available")
	}
}

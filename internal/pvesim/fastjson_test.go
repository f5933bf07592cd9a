package pvesim

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestHandWrittenResourceJSONMatchesEncodingJSON(t *testing.T) {
	items := []any{
		guestResource{ID: "lxc/100", Type: "lxc", VMID: 100, Node: "pve1", Name: "web\"<1>", Status: "running", MaxCPU: "1.5", CPU: 0.0123,
			MaxMem: 1 << 30, Mem: 12345, MaxDisk: 8 << 30, Uptime: 42, Tags: "a;b", Lock: "backup", Pool: "k8s"},
		guestResource{ID: "lxc/101", Type: "lxc", VMID: 101, Node: "pve2", Name: "dé", Status: "stopped", MaxCPU: 4},
		unknownGuest{ID: "lxc/102", Type: "lxc", VMID: 102, Node: "pve3", Status: "unknown", Lock: "create"},
		map[string]any{"id": "node/pve1", "type": "node"},
	}
	fast, err := encodeResources(items)
	if err != nil {
		t.Fatal(err)
	}
	slow, _ := json.Marshal(items)
	var a, b any
	if err := json.Unmarshal(fast, &a); err != nil {
		t.Fatalf("invalid JSON %s: %v", fast, err)
	}
	_ = json.Unmarshal(slow, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("\nfast %s\nslow %s", fast, slow)
	}
}

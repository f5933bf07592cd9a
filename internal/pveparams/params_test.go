package pveparams_test

import (
	"encoding/json"
	"testing"

	"github.com/pve-operator/pve-operator/internal/pveparams"
)

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		name   string
		params pveparams.List
		want   string
	}{
		{name: "an empty list is an empty object", want: `{}`},
		{
			name:   "keys stay in list order, not sorted",
			params: pveparams.List{{Key: "vmid", Value: "100"}, {Key: "ostemplate", Value: "local:vztmpl/x.tar.zst"}, {Key: "hostname", Value: "web1"}},
			want:   `{"vmid":"100","ostemplate":"local:vztmpl/x.tar.zst","hostname":"web1"}`,
		},
		{
			name:   "values are JSON strings with quotes and newlines escaped",
			params: pveparams.List{{Key: "ssh-public-keys", Value: "ssh-ed25519 A \"a\"\nssh-ed25519 B b"}},
			want:   `{"ssh-public-keys":"ssh-ed25519 A \"a\"\nssh-ed25519 B b"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.params)
			if err != nil || string(got) != tt.want {
				t.Fatalf("json.Marshal() = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func TestAddAppends(t *testing.T) {
	var l pveparams.List
	l.Add("tags", "k8s")
	l.Add("description", "owned")
	if len(l) != 2 || l[0] != (pveparams.Param{Key: "tags", Value: "k8s"}) || l[1].Key != "description" {
		t.Fatalf("list = %v", l)
	}
}

package pveschema_test

import (
	"testing"

	"github.com/pve-operator/pve-operator/internal/pvesim/pveschema"
)

func text(s string) pveschema.Value { return pveschema.TextValue(s) }

func TestValidateGivesPVEsMessages(t *testing.T) {
	update, _ := pveschema.Lookup("PUT", "/nodes/{node}/lxc/{vmid}/config")
	create, _ := pveschema.Lookup("POST", "/nodes/{node}/lxc")
	path := map[string]pveschema.Value{"node": text("pve1"), "vmid": text("100")}
	with := func(extra map[string]pveschema.Value) map[string]pveschema.Value {
		out := map[string]pveschema.Value{}
		for k, v := range path {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name   string
		method *pveschema.Method
		params map[string]pveschema.Value
		want   map[string]string
	}{
		{"a non-numeric integer fails the type check", update, with(map[string]pveschema.Value{"cores": text("two")}),
			map[string]string{"cores": "type check ('integer') failed - got 'two'"}},
		{"a repeated scalar key is an array", update, with(map[string]pveschema.Value{"cores": {Kind: pveschema.Array, Items: []string{"1", "2"}}}),
			map[string]string{"cores": "type check ('integer') failed - got ARRAY"}},
		{"a JSON boolean is not an integer", update, with(map[string]pveschema.Value{"cores": {Text: "1", Kind: pveschema.Bool}}),
			map[string]string{"cores": "type check ('integer') failed - got JSON::PP::Boolean"}},
		{"a JSON object is not a string", update, with(map[string]pveschema.Value{"hostname": {Text: "HASH", Kind: pveschema.Object}}),
			map[string]string{"hostname": "type check ('string') failed - got HASH"}},
		{"top-level booleans are only 0 and 1", update, with(map[string]pveschema.Value{"onboot": text("yes")}),
			map[string]string{"onboot": "type check ('boolean') failed - got 'yes'"}},
		{"ranges name the bound", update, with(map[string]pveschema.Value{"cores": text("0"), "tty": text("7")}),
			map[string]string{"cores": "value must have a minimum value of 1", "tty": "value must have a maximum value of 6"}},
		{"lengths count characters", update, with(map[string]pveschema.Value{"digest": text("ä" + string(make([]byte, 40)))}),
			map[string]string{"digest": "value may only be 40 characters long"}},
		{"enums list their values", update, with(map[string]pveschema.Value{"cmode": text("vnc")}),
			map[string]string{"cmode": "value 'vnc' does not have a value in the enumeration 'shell, console, tty'"}},
		{"patterns are anchored", update, with(map[string]pveschema.Value{"features": text("mount=nfs/x")}),
			map[string]string{"features": "invalid format - format error\nfeatures.mount: value does not match the regex pattern\n"}},
		{"named formats run before ranges", update, with(map[string]pveschema.Value{"vmid": text("99")}),
			map[string]string{"vmid": "invalid format - value does not look like a valid VM ID\n"}},
		{"unknown parameters are refused", update, with(map[string]pveschema.Value{"bogus": text("1")}),
			map[string]string{"bogus": "property is not defined in schema and the schema does not allow additional properties"}},
		{"numbered keys stop at PVE's maximum", update, with(map[string]pveschema.Value{"net32": text("name=eth0")}),
			map[string]string{"net32": "property is not defined in schema and the schema does not allow additional properties"}},
		{"required parameters are required", create, map[string]pveschema.Value{"node": text("pve1"), "vmid": text("100")},
			map[string]string{"ostemplate": "property is missing and it is not optional"}},
		{"requires keys the error by the missing key", create, map[string]pveschema.Value{"node": text("pve1"), "vmid": text("100"), "ostemplate": text("local:vztmpl/x.tar.zst"), "unique": text("1")},
			map[string]string{"restore": "missing property required by 'unique'"}},
		{"a property-string key names its path", update, with(map[string]pveschema.Value{"net0": text("name=eth0,ip=10.0.0.1")}),
			map[string]string{"net0": "invalid format - format error\nnet0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n"}},
		{"a missing property-string key is reported", update, with(map[string]pveschema.Value{"net0": text("bridge=vmbr0")}),
			map[string]string{"net0": "invalid format - format error\nnet0.name: property is missing and it is not optional\n"}},
		{"an unknown property-string key is refused", update, with(map[string]pveschema.Value{"rootfs": text("local:8,speed=1")}),
			map[string]string{"rootfs": "invalid format - invalid key in comma-separated list property: speed\n"}},
		{"a second bare value is a duplicate default key", update, with(map[string]pveschema.Value{"rootfs": text("local:8,local:9")}),
			map[string]string{"rootfs": "invalid format - duplicate key in comma-separated list property: volume\n"}},
		{"a bare value needs a default key", update, with(map[string]pveschema.Value{"features": text("nesting")}),
			map[string]string{"features": "invalid format - value without key, but schema does not define a default key\n"}},
		{"a key without a value is refused", update, with(map[string]pveschema.Value{"features": text("nesting=")}),
			map[string]string{"features": "invalid format - missing key in comma-separated list property\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := tt.method.Validate(tt.params)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors %q, want %q", errs, tt.want)
			}
			for k, v := range tt.want {
				if errs[k] != v {
					t.Errorf("errors[%s] = %q, want %q", k, errs[k], v)
				}
			}
		})
	}
}

func TestValidateNormalizes(t *testing.T) {
	update, _ := pveschema.Lookup("PUT", "/nodes/{node}/lxc/{vmid}/config")
	vzdump, _ := pveschema.Lookup("POST", "/nodes/{node}/vzdump")
	tests := []struct {
		name   string
		method *pveschema.Method
		params map[string]pveschema.Value
		key    string
		want   string
	}{
		{"a repeated key of a -list format is joined with commas", update,
			map[string]pveschema.Value{"delete": {Kind: pveschema.Array, Items: []string{"mp0", "description"}}}, "delete", "mp0,description"},
		{"a JSON true is 1", update, map[string]pveschema.Value{"onboot": {Text: "1", Kind: pveschema.Bool}}, "onboot", "1"},
		{"property-string booleans keep their spelling in the value", update,
			map[string]pveschema.Value{"features": text("nesting=yes,keyctl=off")}, "features", "nesting=yes,keyctl=off"},
		{"a single value of an array parameter becomes a one-element array", vzdump,
			map[string]pveschema.Value{"vmid": text("100"), "exclude-path": text("/tmp")}, "exclude-path", "/tmp"},
		{"array elements are joined with NUL", vzdump,
			map[string]pveschema.Value{"vmid": text("100"), "exclude-path": {Kind: pveschema.Array, Items: []string{"/tmp", "/var"}}}, "exclude-path", "/tmp\x00/var"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			params := map[string]pveschema.Value{"node": text("pve1")}
			if tt.method == update {
				params["vmid"] = text("100")
			}
			for k, v := range tt.params {
				params[k] = v
			}
			out, errs := tt.method.Validate(params)
			if errs != nil || out[tt.key] != tt.want {
				t.Fatalf("out[%s] = %q, errors %q; want %q", tt.key, out[tt.key], errs, tt.want)
			}
		})
	}
}

func TestPropertyStringBooleanSpellings(t *testing.T) {
	update, _ := pveschema.Lookup("PUT", "/nodes/{node}/lxc/{vmid}/config")
	for _, tt := range []struct{ spelling, want string }{
		{"1", "1"}, {"yes", "1"}, {"On", "1"}, {"TRUE", "1"}, {"0", "0"}, {"no", "0"}, {"off", "0"}, {"False", "0"},
	} {
		t.Run(tt.spelling+" reads as "+tt.want, func(t *testing.T) {
			keys, err := update.Props["features"].Sub.Parse("features", "nesting="+tt.spelling)
			if err != nil || keys["nesting"] != tt.want {
				t.Fatalf("keys %v, err %v", keys, err)
			}
		})
	}
	t.Run("other spellings fail the boolean type check", func(t *testing.T) {
		_, err := update.Props["features"].Sub.Parse("features", "nesting=y")
		want := "format error\nfeatures.nesting: type check ('boolean') failed - got 'y'\n"
		if err == nil || err.Error() != want {
			t.Fatalf("err %q, want %q", err, want)
		}
	})
}

func TestSplitList(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"commas, semicolons and spaces separate", "a,b;c d\te", []string{"a", "b", "c", "d", "e"}},
		{"leading and trailing separators leave no empty items", " ,a,,b, ", []string{"a", "b"}},
		{"an empty text is an empty list", "", nil},
		{"a NUL switches to NUL-separated items", "a b\x00c", []string{"a b", "c"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := pveschema.SplitList(tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}
}

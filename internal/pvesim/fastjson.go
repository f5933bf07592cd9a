package pvesim

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// jsonAppender is implemented by the /cluster/resources entries that are
// rendered thousands of times per request; hand-written appends keep a
// 10,000-guest list cheap enough to poll.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

// encodeResources renders a resource list, using appendJSON where possible.
func encodeResources(items []any) ([]byte, error) {
	b := make([]byte, 0, 64+len(items)*330)
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		if a, ok := it.(jsonAppender); ok {
			b = a.appendJSON(b)
			continue
		}
		enc, err := json.Marshal(it)
		if err != nil {
			return nil, err
		}
		b = append(b, enc...)
	}
	return append(b, ']'), nil
}

// appendString appends s as a JSON string; plain ASCII takes the fast path.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendKey(b []byte, comma bool, key string) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendAny(b []byte, v any) []byte {
	switch t := v.(type) {
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case string:
		return appendString(b, t)
	default:
		enc, _ := json.Marshal(t)
		return append(b, enc...)
	}
}

// appendGuestHead opens a guest entry with the members every guest has.
func appendGuestHead(b []byte, id, typ string, vmid int, node string) []byte {
	b = append(b, '{')
	b = appendKey(b, false, "id")
	b = appendString(b, id)
	b = appendKey(b, true, "type")
	b = appendString(b, typ)
	b = appendKey(b, true, "vmid")
	b = strconv.AppendInt(b, int64(vmid), 10)
	b = appendKey(b, true, "node")
	return appendString(b, node)
}

// appendGuestMeta appends the members PVE leaves out when empty.
func appendGuestMeta(b []byte, tags, lock, pool string) []byte {
	b = appendOptional(b, "tags", tags)
	b = appendOptional(b, "lock", lock)
	return appendOptional(b, "pool", pool)
}

func (g guestResource) appendJSON(b []byte) []byte {
	b = appendGuestHead(b, g.ID, g.Type, g.VMID, g.Node)
	b = appendKey(b, true, "name")
	b = appendString(b, g.Name)
	b = appendKey(b, true, "status")
	b = appendString(b, g.Status)
	b = appendKey(b, true, "template")
	b = strconv.AppendInt(b, int64(g.Template), 10)
	b = appendKey(b, true, "maxcpu")
	b = appendAny(b, g.MaxCPU)
	b = appendKey(b, true, "cpu")
	b = strconv.AppendFloat(b, g.CPU, 'g', -1, 64)
	for _, f := range []struct {
		k string
		v uint64
	}{
		{"maxmem", g.MaxMem}, {"mem", g.Mem}, {"maxdisk", g.MaxDisk}, {"disk", g.Disk},
		{"netin", g.NetIn}, {"netout", g.NetOut}, {"diskread", g.DiskRead}, {"diskwrite", g.DiskWrite},
	} {
		b = appendKey(b, true, f.k)
		b = strconv.AppendUint(b, f.v, 10)
	}
	b = appendKey(b, true, "uptime")
	b = strconv.AppendInt(b, g.Uptime, 10)
	b = appendGuestMeta(b, g.Tags, g.Lock, g.Pool)
	b = appendOptional(b, "hastate", g.HAState)
	return append(b, '}')
}

func appendOptional(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = appendKey(b, true, key)
	return appendString(b, v)
}

func (g unknownGuest) appendJSON(b []byte) []byte {
	b = appendGuestHead(b, g.ID, g.Type, g.VMID, g.Node)
	b = appendKey(b, true, "status")
	b = appendString(b, g.Status)
	b = appendGuestMeta(b, g.Tags, g.Lock, g.Pool)
	return append(b, '}')
}

package pveparams

import (
	"bytes"
	"encoding/json"
)

// Param is one API parameter with its value in PVE's text form (booleans
// "0"/"1", numbers in decimal), which PVE accepts in JSON and form bodies
// alike.
type Param struct {
	Key, Value string
}

// List is parameters in the order they are rendered and sent.
type List []Param

// Add appends one parameter.
func (l *List) Add(key, value string) { *l = append(*l, Param{Key: key, Value: value}) }

// MarshalJSON encodes the list as one JSON object with the keys in list
// order. encoding/json writes a map's keys sorted, so a map body would lose
// the order; a key given twice is written twice, and PVE keeps the last.
func (l List) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range l {
		key, err := json.Marshal(p.Key)
		if err != nil {
			return nil, err
		}
		value, err := json.Marshal(p.Value)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(key)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

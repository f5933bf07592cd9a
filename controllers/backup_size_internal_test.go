package controllers

import "testing"

func TestHumanSizeIsShortAndBinary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bytes int64
		want  string
	}{
		{"an unknown size is left empty", 0, ""},
		{"a few bytes stay bytes", 512, "512"},
		{"a whole number of KiB is exact", 20 * 1024, "20Ki"},
		{"a typical archive rounds to MiB", 900676608, "859Mi"},
		{"a size under ten GiB keeps MiB precision", 1503238553, "1434Mi"},
		{"a size rounding up to the next unit carries over", 10*1024*1024*1024 - 1, "10Gi"},
		{"a large archive reads in GiB", 123 * 1024 * 1024 * 1024, "123Gi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := humanSize(tc.bytes); got != tc.want {
				t.Errorf("humanSize(%d) = %q, want %q", tc.bytes, got, tc.want)
			}
		})
	}
}

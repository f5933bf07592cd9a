package lxcconfig

import (
	"fmt"
	"strconv"
	"strings"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// ParseDiskSize parses a Proxmox disk size such as "8G", "512M", "1T" or a
// bare number of bytes into bytes.
func ParseDiskSize(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = mib
	case "G":
		mult = gib
	case "T":
		mult = 1 << 40
	}
	num := s
	if mult != 1 {
		num = s[:len(s)-1]
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * float64(mult)), nil
}

// FormatGiB formats bytes as a whole number of GiB for Proxmox ("8G").
func FormatGiB(bytes int64) string {
	return strconv.FormatInt(bytes/gib, 10) + "G"
}

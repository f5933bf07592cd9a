package pveschema

import (
	"strconv"
	"strings"
)

// pve-calendar-event is registered by pve-common's PVE::CalendarEvent,
// whose pve_verify_calendar_event trims the text and hands it to the Rust
// parser behind Proxmox::RS::CalendarEvent (systemd-like calendar events).
// calendarParser accepts that grammar: a keyword (daily, weekly, ...), or
// any of a weekday list ("mon..fri,sun"), a date ("2024-*-01", "*-1") and a
// time ("*:0/15", "02:30:00"), in that order, at least one of them. Each
// field is "*", "*/step", or a comma list of "n", "a..b" and "n/step"
// below the field's limit. PVE's message is "invalid calendar event
// '<text>' - <reason>"; the reason comes from the Rust parser, whose exact
// words this does not reproduce.

var calendarKeywords = setOf("minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually",
	"quarterly", "semiannually", "semi-annually")

var weekdayNames = setOf("mon", "monday", "tue", "tuesday", "wed", "wednesday", "thu", "thursday",
	"fri", "friday", "sat", "saturday", "sun", "sunday")

func init() {
	registerCode("pve-calendar-event", func(v string) error {
		event := strings.TrimSpace(v)
		if event == "" {
			return dief("invalid calendar event '%s' - unable to parse calendar event - event is empty\n", v)
		}
		if !parseCalendarEvent(event) {
			return dief("invalid calendar event '%s' - unable to parse calendar event '%s'\n", v, event)
		}
		return nil
	})
}

type calendarParser struct{ s string }

func parseCalendarEvent(s string) bool {
	if calendarKeywords[s] {
		return true
	}
	p := &calendarParser{s: s}
	found := false
	if s != "" && isASCIILetter(s[0]) {
		if !p.weekdays() {
			return false
		}
		found = true
		p.spaces()
	}
	if p.try(p.dateSpec) {
		found = true
		p.spaces()
	}
	if p.try(p.timeSpec) {
		found = true
	}
	return found && p.s == ""
}

// try runs a parse step and rewinds when it fails.
func (p *calendarParser) try(step func() bool) bool {
	saved := p.s
	if step() {
		return true
	}
	p.s = saved
	return false
}

func (p *calendarParser) spaces() { p.s = strings.TrimLeft(p.s, " \t") }

func (p *calendarParser) literal(t string) bool {
	if strings.HasPrefix(p.s, t) {
		p.s = p.s[len(t):]
		return true
	}
	return false
}

func (p *calendarParser) weekdays() bool {
	for {
		if !p.weekday() {
			return false
		}
		if p.literal("..") && !p.weekday() {
			return false
		}
		if !p.literal(",") {
			return true
		}
	}
}

func (p *calendarParser) weekday() bool {
	n := 0
	for n < len(p.s) && isASCIILetter(p.s[n]) {
		n++
	}
	if !weekdayNames[strings.ToLower(p.s[:n])] {
		return false
	}
	p.s = p.s[n:]
	return true
}

// dateSpec is [year-]month-day.
func (p *calendarParser) dateSpec() bool {
	saved := p.s
	if p.fieldList(2200) && p.literal("-") && p.fieldList(13) && p.literal("-") && p.fieldList(32) {
		return true
	}
	p.s = saved
	return p.fieldList(13) && p.literal("-") && p.fieldList(32)
}

// timeSpec is hour:minute[:second].
func (p *calendarParser) timeSpec() bool {
	if !p.fieldList(24) || !p.literal(":") || !p.fieldList(60) {
		return false
	}
	saved := p.s
	if !p.literal(":") || !p.fieldList(60) {
		p.s = saved
	}
	return true
}

func (p *calendarParser) fieldList(limit int) bool {
	if p.literal("*") {
		saved := p.s
		if n, ok := p.literalNumber("/", limit); ok && n > 0 {
			return true
		}
		p.s = saved
		return true
	}
	for {
		if !p.field(limit) {
			return false
		}
		if !p.literal(",") {
			return true
		}
	}
}

func (p *calendarParser) field(limit int) bool {
	start, ok := p.number(limit)
	if !ok {
		return false
	}
	if p.literal("..") {
		end, ok := p.number(limit)
		return ok && start <= end
	}
	if p.literal("/") {
		_, ok := p.number(limit)
		return ok
	}
	return true
}

func (p *calendarParser) literalNumber(prefix string, limit int) (int, bool) {
	if !p.literal(prefix) {
		return 0, false
	}
	return p.number(limit)
}

func (p *calendarParser) number(limit int) (int, bool) {
	n := 0
	for n < len(p.s) && p.s[n] >= '0' && p.s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, false
	}
	v, err := strconv.Atoi(p.s[:n])
	if err != nil || v >= limit {
		return 0, false
	}
	p.s = p.s[n:]
	return v, true
}

func isASCIILetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

package redact

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// Recorder returns rec with Default's secrets removed from every event
// note. The manager wraps its recorder once, so no controller can emit an
// unscrubbed note, whichever helper it uses.
func Recorder(rec events.EventRecorder) events.EventRecorder { return recorder{rec} }

type recorder struct{ rec events.EventRecorder }

func (r recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.rec.Eventf(regarding, related, eventtype, reason, action, "%s", String(fmt.Sprintf(note, args...)))
}

package manager

import (
	"context"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
)

func TestQuietContextKeepsOnlyV0(t *testing.T) {
	var lines []string
	verbose := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 10})
	cases := []struct {
		name    string
		level   int
		written bool
	}{
		{"a V(0) message (an error or warning about the request) is written", 0, true},
		{"a V(6) request trace is dropped", 6, false},
		{"a V(8) body dump is dropped", 8, false},
		{"a V(10) untruncated body dump is dropped", 10, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines = nil
			ctx := quietContext(klog.NewContext(context.Background(), verbose))
			log := klog.FromContext(ctx).WithName("rest").WithValues("k", "v")
			if got := log.V(c.level).Enabled(); got != c.written {
				t.Errorf("V(%d).Enabled() = %v, want %v", c.level, got, c.written)
			}
			log.V(c.level).Info("body", "data", "c2VjcmV0")
			if got := len(lines) == 1 && strings.Contains(lines[0], "c2VjcmV0"); got != c.written {
				t.Errorf("written = %v (%q), want %v", got, lines, c.written)
			}
		})
	}
}

func TestQuietContextOverADiscardingLoggerStaysSilent(t *testing.T) {
	ctx := quietContext(logr.NewContext(context.Background(), logr.Discard()))
	if klog.FromContext(ctx).Enabled() {
		t.Error("a discarding logger became enabled")
	}
}

func TestIsSecret(t *testing.T) {
	secretMeta := &metav1.PartialObjectMetadata{}
	secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	configMapMeta := &metav1.PartialObjectMetadata{}
	configMapMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	cases := []struct {
		name string
		obj  runtime.Object
		want bool
	}{
		{"a Secret is one", &corev1.Secret{}, true},
		{"a list of Secrets is one", &corev1.SecretList{}, true},
		{"a Secret's metadata (the rotation watch) is one", secretMeta, true},
		{"metadata of no known kind counts as one", &metav1.PartialObjectMetadata{}, true},
		{"a ConfigMap is not", &corev1.ConfigMap{}, false},
		{"a ConfigMap's metadata is not", configMapMeta, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := isSecret(c.obj, Scheme); got != c.want {
				t.Errorf("isSecret(%T) = %v, want %v", c.obj, got, c.want)
			}
		})
	}
}

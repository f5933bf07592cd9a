package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/internal/lxcconfig"
	"github.com/pve-operator/pve-operator/internal/redact"
)

// secretEnvShown stands in status.config for a value that came from a
// Secret: Proxmox holds it in clear text, status need not repeat it.
const secretEnvShown = "(from Secret)"

// resolvedEnv is spec.env with its values read, and which names came
// from Secrets.
type resolvedEnv struct {
	vars    []lxcconfig.EnvVar
	secrets map[string]bool
}

// resolveEnv reads the values of spec.env. A missing ConfigMap, Secret or
// key is Stalled with the reference named: the spec points at nothing.
// Secret values are registered with the redactor before anything else
// sees them.
func (r *ApplicationReconciler) resolveEnv(ctx context.Context, app *v1alpha1.Application) (resolvedEnv, outcome, bool) {
	out := resolvedEnv{secrets: map[string]bool{}}
	for _, e := range app.Spec.Env {
		v, o, ok := r.envValue(ctx, app, e)
		if !ok {
			return resolvedEnv{}, o, false
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			redact.Add(v)
			out.secrets[e.Name] = true
		}
		if strings.ContainsFunc(v, isControl) {
			return resolvedEnv{}, stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf(
				"env %s: the value read contains control characters, which Proxmox' env option cannot hold", e.Name)), false
		}
		out.vars = append(out.vars, lxcconfig.EnvVar{Name: e.Name, Value: v})
	}
	return out, outcome{}, true
}

func isControl(c rune) bool { return c < 0x20 || c == 0x7f }

// envValue is one variable's value.
func (r *ApplicationReconciler) envValue(ctx context.Context, app *v1alpha1.Application, e v1alpha1.EnvVar) (string, outcome, bool) {
	switch {
	case e.Value != nil:
		return *e.Value, outcome{}, true
	case e.ValueFrom == nil:
		return "", outcome{}, true
	case e.ValueFrom.ConfigMapKeyRef != nil:
		ref := e.ValueFrom.ConfigMapKeyRef
		cm := &corev1.ConfigMap{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: ref.Name}, cm); err != nil {
			return "", envRefMissing(e.Name, "ConfigMap", ref.Name, err), false
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", stalled(v1alpha1.ReasonInvalidSpec, fmt.Sprintf("env %s: ConfigMap %q has no key %q", e.Name, ref.Name, ref.Key)), false
		}
		return v, outcome{}, true
	}
	ref := e.ValueFrom.SecretKeyRef
	sec := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: ref.Name}, sec); err != nil {
		return "", envRefMissing(e.Name, "Secret", ref.Name, err), false
	}
	v, ok := sec.Data[ref.Key]
	if !ok {
		return "", stalled(v1alpha1.ReasonSecretNotFound, fmt.Sprintf("env %s: Secret %q has no key %q", e.Name, ref.Name, ref.Key)), false
	}
	return string(v), outcome{}, true
}

func envRefMissing(name, kind, obj string, err error) outcome {
	if apierrors.IsNotFound(err) {
		reason := v1alpha1.ReasonInvalidSpec
		if kind == "Secret" {
			reason = v1alpha1.ReasonSecretNotFound
		}
		return stalled(reason, fmt.Sprintf("env %s: %s %q not found", name, kind, obj))
	}
	return progressing(v1alpha1.ReasonProxmoxError, fmt.Sprintf("env %s: cannot read %s %q: %s", name, kind, obj, apierrors.ReasonForError(err)))
}

// maskSecretEnv replaces, in an observed config, the values of the
// variables that came from Secrets.
func maskSecretEnv(cfg map[string]string, env resolvedEnv) {
	if len(env.secrets) == 0 || cfg["env"] == "" {
		return
	}
	entries := lxcconfig.SplitEnv(cfg["env"])
	for i, entry := range entries {
		if name, _, _ := strings.Cut(entry, "="); env.secrets[name] {
			entries[i] = name + "=" + secretEnvShown
		}
	}
	cfg["env"] = lxcconfig.JoinEnv(entries)
}

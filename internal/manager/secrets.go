package manager

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// client-go logs each request through the logger of the request's context:
// from V(6) its URL and timing, from V(7) its headers, from V(8) the request
// and response bodies, which for a Secret are its data, base64-encoded where
// no substring redaction sees it. redact.Logger already writes nothing above
// redact.MaxVerbosity, but that holds only for that logger and that
// constant. Every request about a Secret therefore carries a logger of its
// own that is silent above V(0): its trace never reaches the log, whichever
// logger the process installed and whatever -v or --zap-log-level ask for.
// Errors and V(0) warnings about the request still do; they carry no body.

// quietContext returns ctx with its logger silenced above V(0).
func quietContext(ctx context.Context) context.Context {
	sink := klog.FromContext(ctx).GetSink()
	if sink == nil {
		// A discarding logger is as quiet as it gets.
		return ctx
	}
	if _, ok := sink.(quietSink); ok {
		return ctx
	}
	if cd, ok := sink.(logr.CallDepthLogSink); ok {
		// One frame for quietSink's own methods, so the caller logged is
		// still client-go's.
		sink = cd.WithCallDepth(1)
	}
	return klog.NewContext(ctx, logr.New(quietSink{sink}))
}

// quietSink passes on errors and V(0) messages only.
type quietSink struct{ logr.LogSink }

// Init does nothing: the wrapped sink was initialised by the logger it came
// from, and zapr's Init would add caller skips to that shared sink again on
// every request.
func (quietSink) Init(logr.RuntimeInfo) {}

func (s quietSink) Enabled(level int) bool { return level <= 0 && s.LogSink.Enabled(level) }

func (s quietSink) Info(level int, msg string, kv ...any) {
	if level <= 0 {
		s.LogSink.Info(level, msg, kv...)
	}
}

func (s quietSink) WithValues(kv ...any) logr.LogSink { return quietSink{s.LogSink.WithValues(kv...)} }

func (s quietSink) WithName(name string) logr.LogSink { return quietSink{s.LogSink.WithName(name)} }

func (s quietSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.LogSink.(logr.CallDepthLogSink); ok {
		return quietSink{cd.WithCallDepth(depth)}
	}
	return s
}

// isSecret tells whether obj is a Secret, a list of them or their metadata.
// An object whose kind cannot be told counts as one: losing its trace costs
// nothing, and the request fails on the unknown kind anyway.
func isSecret(obj runtime.Object, scheme *runtime.Scheme) bool {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return true
	}
	return gvk.Group == "" && (gvk.Kind == "Secret" || gvk.Kind == "SecretList")
}

// secretQuietClient is the client the reconcilers get: a Secret is read
// from the apiserver (the cache holds none), so every Get of one is an HTTP
// exchange whose response body is the Secret's data.
type secretQuietClient struct{ client.Client }

func (c secretQuietClient) ctxFor(ctx context.Context, obj runtime.Object) context.Context {
	if isSecret(obj, c.Scheme()) {
		return quietContext(ctx)
	}
	return ctx
}

func (c secretQuietClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.Client.Get(c.ctxFor(ctx, obj), key, obj, opts...)
}

func (c secretQuietClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.Client.List(c.ctxFor(ctx, list), list, opts...)
}

func (c secretQuietClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return c.Client.Create(c.ctxFor(ctx, obj), obj, opts...)
}

func (c secretQuietClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return c.Client.Update(c.ctxFor(ctx, obj), obj, opts...)
}

func (c secretQuietClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return c.Client.Patch(c.ctxFor(ctx, obj), obj, patch, opts...)
}

func (c secretQuietClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	return c.Client.Delete(c.ctxFor(ctx, obj), obj, opts...)
}

// quietSecretInformers builds the cache's informers, those of Secrets (the
// metadata watch that notices rotation) with quiet list and watch requests:
// metadata still holds annotations, and client-side `kubectl apply` keeps a
// full copy of the Secret, data included, in one of them.
func quietSecretInformers(scheme *runtime.Scheme) func(toolscache.ListerWatcher, runtime.Object, time.Duration, toolscache.Indexers) toolscache.SharedIndexInformer {
	return func(lw toolscache.ListerWatcher, obj runtime.Object, resync time.Duration, indexers toolscache.Indexers) toolscache.SharedIndexInformer {
		if isSecret(obj, scheme) {
			lw = quietListWatch(lw)
		}
		return toolscache.NewSharedIndexInformer(lw, obj, resync, indexers)
	}
}

func quietListWatch(lw toolscache.ListerWatcher) *toolscache.ListWatch {
	inner := toolscache.ToListerWatcherWithContext(lw)
	out := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			return inner.ListWithContext(quietContext(ctx), opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			return inner.WatchWithContext(quietContext(ctx), opts)
		},
	}
	if l, ok := lw.(*toolscache.ListWatch); ok {
		out.DisableChunking = l.DisableChunking
	}
	return out
}

package manager

import (
	"crypto/tls"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "github.com/pve-operator/pve-operator/api/v1alpha1"
	"github.com/pve-operator/pve-operator/controllers"
	"github.com/pve-operator/pve-operator/internal/redact"
)

// Scheme holds the Kubernetes types and this project's API.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(Scheme))
	utilruntime.Must(v1alpha1.AddToScheme(Scheme))
}

// New builds a manager with every controller registered.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	o.defaults()
	mgr, err := ctrl.NewManager(cfg, managerOptions(o))
	if err != nil {
		return nil, err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := setupControllers(mgr, o); err != nil {
		return nil, err
	}
	return mgr, nil
}

// managerOptions: metrics, probes, leader election and what the cache
// holds.
func managerOptions(o Options) ctrl.Options {
	mopts := ctrl.Options{
		Scheme: Scheme,
		Metrics: metricsserver.Options{
			BindAddress:   o.MetricsAddr,
			SecureServing: o.SecureMetrics,
			// HTTP/2 stays off because of the rapid-reset CVEs (CVE-2023-44487).
			TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }},
			// Scrapers authenticate with a token and need GET /metrics via RBAC.
			FilterProvider: metricsFilter(o.SecureMetrics),
		},
		HealthProbeBindAddress:  o.ProbeAddr,
		PprofBindAddress:        o.PprofAddr,
		Controller:              config.Controller{SkipNameValidation: &o.SkipNameValidation},
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "pve-operator.proxmox.pve-operator.io",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// cmd/manager and make dev exit as soon as the manager stops, so the
		// Lease can be handed back: a restart need not wait it out.
		LeaderElectionReleaseOnCancel: true,
		// Secrets are read straight from the apiserver: caching every Secret
		// in the cluster would hold credentials in memory and need
		// cluster-wide list/watch.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
	}
	mopts.Cache = cache.Options{DefaultTransform: trimForCache(), NewInformer: quietSecretInformers(Scheme)}
	if o.CredentialsNamespace != "" {
		// Watching Secrets (for rotation) is then confined to that namespace.
		secretMeta := &metav1.PartialObjectMetadata{}
		secretMeta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		only := cache.ByObject{Namespaces: map[string]cache.Config{o.CredentialsNamespace: {}}}
		mopts.Cache.ByObject = map[client.Object]cache.ByObject{secretMeta: only}
	}
	return mopts
}

// setupControllers registers every reconciler with mgr; they share one
// host registry and one event recorder.
func setupControllers(mgr ctrl.Manager, o Options) error {
	// Every controller's events go through the secret registry.
	recorder := redact.Recorder(mgr.GetEventRecorder("pve-operator"))
	// Every Secret a reconciler reads is kept out of client-go's request log.
	k8s := secretQuietClient{mgr.GetClient()}
	hosts := controllers.NewHosts()
	if err := (&controllers.ProxmoxHostReconciler{
		Client:               k8s,
		Hosts:                hosts,
		Recorder:             recorder,
		CredentialsNamespace: o.CredentialsNamespace,
		Timeout:              o.ProxmoxTimeout,
		QPS:                  o.ProxmoxQPS,
		Burst:                o.ProxmoxBurst,
		MaxTasksPerHost:      o.MaxTasksPerHost,
		Now:                  o.Now,
	}).SetupWithManager(mgr, o.HostConcurrency); err != nil {
		return err
	}
	apps := &controllers.ApplicationReconciler{
		Client:       k8s,
		Hosts:        hosts,
		Recorder:     recorder,
		TaskDeadline: o.TaskDeadline,
		Now:          o.Now,

		DriftInterval:       o.DriftInterval,
		DriftReadsPerSecond: o.DriftReadsPerSecond,
	}
	if err := apps.SetupWithManager(mgr, o.ApplicationConcurrency); err != nil {
		return err
	}
	if err := (&controllers.BackupReconciler{
		Client:       k8s,
		Hosts:        hosts,
		Recorder:     recorder,
		TaskDeadline: o.TaskDeadline,
	}).SetupWithManager(mgr, o.BackupConcurrency); err != nil {
		return err
	}
	if err := (&controllers.RestoreReconciler{
		Client:       k8s,
		Hosts:        hosts,
		Recorder:     recorder,
		TaskDeadline: o.TaskDeadline,
	}).SetupWithManager(mgr, o.BackupConcurrency); err != nil {
		return err
	}
	if err := (&controllers.StagedImageReconciler{
		Client:   k8s,
		Hosts:    hosts,
		Recorder: recorder,
		Now:      o.Now,
	}).SetupWithManager(mgr, o.BackupConcurrency); err != nil {
		return err
	}
	if err := (&controllers.BackupScheduleReconciler{
		Client:   k8s,
		Recorder: recorder,
	}).SetupWithManager(mgr, o.BackupConcurrency); err != nil {
		return err
	}
	return nil
}

// metricsFilter authenticates and authorizes metrics scrapers through the
// apiserver (TokenReview + SubjectAccessReview) when metrics are secure.
func metricsFilter(secure bool) func(*rest.Config, *http.Client) (metricsserver.Filter, error) {
	if !secure {
		return nil
	}
	return filters.WithAuthenticationAndAuthorization
}

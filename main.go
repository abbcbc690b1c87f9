/*
Copyright 2026 The cluster-api-provider-vpsie Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command manager runs the VPSie infrastructure provider's controllers.
// This file only wires flags to options, controllers, metrics and health.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	cliflag "k8s.io/component-base/cli/flag"
	"k8s.io/component-base/logs"
	logsv1 "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register" // --logging-format=json
	"k8s.io/klog/v2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	capiflags "sigs.k8s.io/cluster-api/util/flags"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/controllers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/metrics"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/intent"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/loadbalancers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/orphans"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services/servers"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/webhooks"
)

// options are the manager's command-line settings.
type options struct {
	manager              capiflags.ManagerOptions
	logs                 *logs.Options
	healthAddr           string
	profilerAddress      string
	leaderElect          bool
	leaderElectionLease  time.Duration
	leaderElectionRenew  time.Duration
	leaderElectionRetry  time.Duration
	watchNamespace       string
	watchFilter          string
	syncPeriod           time.Duration
	gracefulShutdownTime time.Duration

	vpsieClusterConcurrency int
	vpsieMachineConcurrency int
	clusterCacheConcurrency int

	webhookPort    int
	webhookCertDir string

	apiURL            string
	vmRoutePrefix     string
	requestsPerMinute float64
	apiBurst          int
	maxUserData       int
	credentialsCheck  time.Duration
	pollWindow        time.Duration
	perMachinePolling bool

	serverPollInterval          time.Duration
	runningServerCheckInterval  time.Duration
	clusterResourcePollInterval time.Duration
	createGrace                 time.Duration
	createMinProofWindow        time.Duration
	managementClusterID         string
	orphanSweep                 string
	orphanSweepGrace            time.Duration
	orphanSweepInterval         time.Duration
}

func (o *options) addFlags(fs *pflag.FlagSet) {
	logsv1.AddFlags(o.logs, fs)
	capiflags.AddManagerOptions(fs, &o.manager)
	fs.StringVar(&o.healthAddr, "health-addr", ":9440", "The address the health and readiness probes bind to.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false,
		"Enable leader election, so only one replica of the manager reconciles at a time.")
	fs.DurationVar(&o.leaderElectionLease, "leader-elect-lease-duration", 15*time.Second,
		"How long non-leader candidates wait before forcing acquisition of leadership.")
	fs.DurationVar(&o.leaderElectionRenew, "leader-elect-renew-deadline", 10*time.Second,
		"How long the leader retries refreshing leadership before giving it up.")
	fs.DurationVar(&o.leaderElectionRetry, "leader-elect-retry-period", 2*time.Second,
		"How long candidates wait between tries of leadership actions.")
	fs.StringVar(&o.watchNamespace, "namespace", "",
		"Namespace the manager watches for objects. Empty means all namespaces.")
	fs.StringVar(&o.profilerAddress, "profiler-address", "",
		"Bind address of the pprof profiler (e.g. localhost:6060). Empty turns it off.")
	fs.DurationVar(&o.syncPeriod, "sync-period", 10*time.Minute,
		"The minimum interval at which watched objects are reconciled again.")
	fs.DurationVar(&o.gracefulShutdownTime, "graceful-shutdown-timeout", 30*time.Second,
		"How long the manager waits for running reconciles to finish on shutdown.")
	fs.StringVar(&o.watchFilter, "watch-filter", "",
		fmt.Sprintf("Only reconcile objects labelled %s=<this value>. Empty means all objects.", clusterv1.WatchLabel))

	fs.IntVar(&o.vpsieClusterConcurrency, "vpsiecluster-concurrency", 5, "VPSieClusters reconciled at once.")
	fs.IntVar(&o.vpsieMachineConcurrency, "vpsiemachine-concurrency", 10, "VPSieMachines reconciled at once.")
	fs.IntVar(&o.clusterCacheConcurrency, "clustercache-concurrency", 10,
		"Workload cluster connections (for Node providerIDs) reconciled at once.")

	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "Port the webhook server listens on. 0 disables the webhooks.")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs/",
		"Folder holding the webhook server's tls.crt and tls.key.")

	fs.StringVar(&o.apiURL, "vpsie-api-url", vpsie.DefaultBaseURL, "Base URL of the VPSie API.")
	fs.StringVar(&o.vmRoutePrefix, "vpsie-vm-route-prefix", "/api/v2",
		"Prefix of VPSie's VM routes: /api/v2 (newest SDK) or /apps/v2 (older clients).")
	fs.Float64Var(&o.requestsPerMinute, "vpsie-api-requests-per-minute", 100,
		"VPSie API requests per minute, shared by everything using the same credentials.")
	fs.IntVar(&o.apiBurst, "vpsie-api-burst", 10, "VPSie API requests that may go at once above the steady rate.")
	fs.IntVar(&o.maxUserData, "max-user-data-bytes", cloudinit.DefaultSizeLimit,
		"The most user data a server create may send, counted base64-encoded as sent. Over it the user data is sent "+
			"gzip-compressed; still over it, no server is created and ServerReady says why. VPSie documents no limit; "+
			"a negative value sends anything.")
	fs.DurationVar(&o.credentialsCheck, "credentials-recheck-interval", controllers.DefaultCredentialsRecheck,
		"How soon a VPSieCluster whose credentials Secret is missing, malformed or refused reads it again "+
			"(Secrets are not watched).")
	fs.DurationVar(&o.pollWindow, "server-poll-window", servers.DefaultPollWindow,
		"How long one VM list serves every machine of an account waiting for its server.")
	fs.BoolVar(&o.perMachinePolling, "per-machine-polling", false,
		"Comparison mode for benchmarks, not for production: every machine whose server is known reads it with a GET "+
			"of its own at each poll instead of the shared VM list, at a request per machine per poll.")
	fs.DurationVar(&o.serverPollInterval, "server-poll-interval", servers.DefaultPollInterval,
		"How often a machine waiting for its server to be created, boot or go away looks again.")
	fs.DurationVar(&o.runningServerCheckInterval, "running-server-check-interval", servers.DefaultRunningPollInterval,
		"How often a provisioned machine checks that its server still exists and runs.")
	fs.DurationVar(&o.clusterResourcePollInterval, "cluster-resource-poll-interval", loadbalancers.DefaultPollInterval,
		"How often a cluster waiting for its load balancer, its VPC or their deletion looks again.")
	fs.DurationVar(&o.createGrace, "create-grace", intent.DefaultGrace,
		"How long VPSie must show nothing of a server, load balancer or VPC whose create had an unknown outcome "+
			"(lost answer, restart) before it is created again. Longer than VPSie ever takes to show a new resource.")
	fs.DurationVar(&o.createMinProofWindow, "create-min-proof-window", intent.DefaultMinProofWindow,
		"The shortest absence that proves a create answered with a gateway page or a 5xx made nothing, once this "+
			"process has measured how soon VPSie shows what it creates. Set it to --create-grace or more to always wait "+
			"the full grace.")
	fs.StringVar(&o.managementClusterID, "management-cluster-id", "",
		"This management cluster's identity, recorded on each new VPSieCluster and part of its resources' names and "+
			"ownership tags, so management clusters sharing a VPSie account never touch each other's resources. "+
			"Empty or \"auto\" means the UID of the kube-system namespace. Lower-case letters, digits and '-'.")
	fs.StringVar(&o.orphanSweep, "orphan-sweep", string(orphans.ModeDelete),
		"What the orphan sweep does with servers, load balancers and VPCs tagged with this management cluster's identity "+
			"whose VPSieMachine or VPSieCluster is gone: delete, report (log and count only) or off.")
	fs.DurationVar(&o.orphanSweepGrace, "orphan-sweep-grace", orphans.DefaultGrace,
		"How long an owner object must have been seen gone, continuously, before its resources are orphans.")
	fs.DurationVar(&o.orphanSweepInterval, "orphan-sweep-interval", orphans.DefaultInterval, "Time between orphan sweeps.")
}

// serverTiming is the machine controller's waits, from the flags.
func (o *options) serverTiming() servers.Timing {
	return servers.Timing{
		PollTiming: services.PollTiming{Poll: o.serverPollInterval, DeletePoll: o.serverPollInterval},
		Running:    o.runningServerCheckInterval,
	}
}

// clusterResourceTiming is the cluster controller's waits (load balancer, VPC, machines gone), from the flags.
func (o *options) clusterResourceTiming() services.PollTiming {
	return services.PollTiming{Poll: o.clusterResourcePollInterval, DeletePoll: o.clusterResourcePollInterval}
}

func main() {
	opts := &options{logs: logs.NewOptions()}
	fs := pflag.CommandLine
	opts.addFlags(fs)
	fs.SetNormalizeFunc(cliflag.WordSepNormalizeFunc)
	fs.AddGoFlagSet(flag.CommandLine)
	pflag.Parse()

	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(opts *options) error {
	if err := logsv1.ValidateAndApply(opts.logs, nil); err != nil {
		return fmt.Errorf("invalid logging flags: %w", err)
	}
	ctrl.SetLogger(klog.Background())
	setupLog := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, clusterv1.AddToScheme, infrav1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}

	tlsOptions, metricsOptions, err := capiflags.GetManagerOptions(opts.manager)
	if err != nil {
		return fmt.Errorf("invalid TLS or diagnostics flags: %w", err)
	}
	metricsOptions.TLSOpts = tlsOptions

	if err := vpsie.RegisterMetrics(ctrlmetrics.Registry); err != nil {
		return fmt.Errorf("registering VPSie API metrics: %w", err)
	}
	collectors := append(metrics.Collectors(), servers.Collectors()...)
	ctrlmetrics.Registry.MustRegister(append(collectors, orphans.Collectors()...)...)

	// Managed fields are most of a cached object's metadata and nothing here reads them (no server-side apply):
	// dropping them keeps the cache's memory to what the controllers use, as Cluster API's managers do.
	cacheOptions := cache.Options{SyncPeriod: &opts.syncPeriod, DefaultTransform: cache.TransformStripManagedFields()}
	if opts.watchNamespace != "" {
		cacheOptions.DefaultNamespaces = map[string]cache.Config{opts.watchNamespace: {}}
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 *metricsOptions,
		HealthProbeBindAddress:  opts.healthAddr,
		PprofBindAddress:        opts.profilerAddress,
		LeaderElection:          opts.leaderElect,
		LeaderElectionID:        "controller-leader-election-capvpsie",
		LeaseDuration:           &opts.leaderElectionLease,
		RenewDeadline:           &opts.leaderElectionRenew,
		RetryPeriod:             &opts.leaderElectionRetry,
		GracefulShutdownTimeout: &opts.gracefulShutdownTime,
		Cache:                   cacheOptions,
		// Secrets are never cached: no right to list or watch them (docs/architecture.md, "Security").
		Client: scope.ManagerClientOptions(),
		WebhookServer: webhook.NewServer(webhook.Options{
			Port:    opts.webhookPort,
			CertDir: opts.webhookCertDir,
			TLSOpts: tlsOptions,
		}),
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}

	ctx := ctrl.SetupSignalHandler()
	if opts.managementClusterID, err = managementClusterID(ctx, mgr.GetAPIReader(), opts.managementClusterID); err != nil {
		return err
	}
	setupLog.Info("management-cluster identity", "identity", opts.managementClusterID)
	if err := setupReconcilers(ctx, mgr, opts); err != nil {
		return err
	}
	if opts.webhookPort != 0 {
		if err := webhooks.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up webhooks: %w", err)
		}
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return err
		}
	}

	setupLog.Info("starting manager", "version", vpsie.Version)
	return mgr.Start(ctx)
}

// managementClusterID is the flag's identity, or the UID of the kube-system namespace: stable for the life of
// the management cluster, distinct between clusters, and readable before the manager starts.
func managementClusterID(ctx context.Context, reader client.Reader, flagValue string) (string, error) {
	id := flagValue
	if id == "" || id == "auto" {
		ns := &corev1.Namespace{}
		if err := reader.Get(ctx, client.ObjectKey{Name: metav1.NamespaceSystem}, ns); err != nil {
			return "", fmt.Errorf("reading the kube-system namespace for the management-cluster identity "+
				"(or set --management-cluster-id): %w", err)
		}
		id = string(ns.UID)
	}
	if err := scope.ValidateIdentity(id); err != nil {
		return "", fmt.Errorf("--management-cluster-id: %w", err)
	}
	return id, nil
}

func setupReconcilers(ctx context.Context, mgr ctrl.Manager, opts *options) error {
	accounts := &scope.ClientCache{Config: vpsie.Config{
		BaseURL:           opts.apiURL,
		VMPathPrefix:      opts.vmRoutePrefix,
		RequestsPerMinute: opts.requestsPerMinute,
		Burst:             opts.apiBurst,
		StartWithoutBurst: true,
		Logger:            ctrl.Log.WithName("vpsie"),
	}}
	// The machine controller and the orphan sweep read servers' tags through one copy: a claim made by one is
	// seen by the other, and no server's tags are read twice.
	serverTags := &services.ServerTags{}

	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient:     mgr.GetClient(),
		WatchFilterValue: opts.watchFilter,
		Client:           clustercache.ClientOptions{UserAgent: "cluster-api-provider-vpsie/" + vpsie.Version},
	}, controller.Options{MaxConcurrentReconciles: opts.clusterCacheConcurrency})
	if err != nil {
		return fmt.Errorf("setting up the workload cluster cache: %w", err)
	}

	if err := (&controllers.VPSieClusterReconciler{
		Client:              mgr.GetClient(),
		Accounts:            accounts,
		ManagementClusterID: opts.managementClusterID,
		Recorder:            mgr.GetEventRecorder("vpsiecluster-controller"),
		WatchFilterValue:    opts.watchFilter,
		Intents:             &intent.Tracker{Grace: opts.createGrace, MinProofWindow: opts.createMinProofWindow},
		Timing:              opts.clusterResourceTiming(),
		CredentialsRecheck:  opts.credentialsCheck,
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: opts.vpsieClusterConcurrency}); err != nil {
		return fmt.Errorf("setting up the VPSieCluster controller: %w", err)
	}
	if err := (&controllers.VPSieMachineReconciler{
		Client:              mgr.GetClient(),
		Accounts:            accounts,
		ManagementClusterID: opts.managementClusterID,
		UserDataLimit:       opts.maxUserData,
		Observer:            &servers.Observer{Window: opts.pollWindow, PerMachine: opts.perMachinePolling, ServerTags: serverTags},
		Intents:             &intent.Tracker{Grace: opts.createGrace, MinProofWindow: opts.createMinProofWindow},
		ClusterCache:        clusterCache,
		Recorder:            mgr.GetEventRecorder("vpsiemachine-controller"),
		WatchFilterValue:    opts.watchFilter,
		Timing:              opts.serverTiming(),
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: opts.vpsieMachineConcurrency}); err != nil {
		return fmt.Errorf("setting up the VPSieMachine controller: %w", err)
	}
	mode, err := orphans.ParseMode(opts.orphanSweep)
	if err != nil {
		return fmt.Errorf("--orphan-sweep: %w", err)
	}
	if err := mgr.Add(&orphans.Sweeper{
		Options: orphans.Options{
			Identity: opts.managementClusterID, Mode: mode, Grace: opts.orphanSweepGrace, Interval: opts.orphanSweepInterval,
		},
		Reader:     mgr.GetAPIReader(),
		Accounts:   accounts,
		ServerTags: serverTags,
	}); err != nil {
		return fmt.Errorf("setting up the orphan sweep: %w", err)
	}
	if err := (&controllers.VPSieMachineTemplateReconciler{
		Client:           mgr.GetClient(),
		Accounts:         accounts,
		WatchFilterValue: opts.watchFilter,
	}).SetupWithManager(ctx, mgr, controller.Options{}); err != nil {
		return fmt.Errorf("setting up the VPSieMachineTemplate controller: %w", err)
	}
	return nil
}

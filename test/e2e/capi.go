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

package e2e

// Cluster API's core controllers and webhooks, run in-process on a manager of their own, wired as
// sigs.k8s.io/cluster-api/core/main.go (v1.14.2) wires them with the ClusterTopology feature gate on (the
// ClusterClass and topology reconcilers run), minus what the scenarios do not use (the Runtime SDK,
// MachinePools, the CRD migrator); and the kubeadm bootstrap provider (CABPK) on another
// manager, as its own binary would run. The KubeadmControlPlane provider runs as its own binary (kcp.go).
//
// Why in-process rather than the core manager binary: the binary would need its own serving certificate and
// webhook configurations, a second cold build of ~80 s, and a third process on 2 cores; in-process, its
// webhooks are served on envtest's local webhook address with envtest's certificate, and its configurations
// are installed by envtest from the module's core/config/webhook/manifests.yaml. The code that runs is the same
// reconcilers and admission handlers the binary runs.

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	addonsv1beta1 "sigs.k8s.io/cluster-api/api/addons/v1beta1" //nolint:staticcheck // the core webhooks convert from it
	addonsv1 "sigs.k8s.io/cluster-api/api/addons/v1beta2"
	bootstrapv1beta1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta1" //nolint:staticcheck // the bootstrap webhooks convert from it
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1beta1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta1" //nolint:staticcheck // the control-plane webhooks convert from it
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1beta1 "sigs.k8s.io/cluster-api/api/core/v1beta1" //nolint:staticcheck // the core webhooks convert from it
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	ipamv1alpha1 "sigs.k8s.io/cluster-api/api/ipam/v1alpha1" //nolint:staticcheck // the core webhooks convert from it
	ipamv1beta1 "sigs.k8s.io/cluster-api/api/ipam/v1beta1"   //nolint:staticcheck // the core webhooks convert from it
	ipamv1 "sigs.k8s.io/cluster-api/api/ipam/v1beta2"
	runtimev1alpha1 "sigs.k8s.io/cluster-api/api/runtime/v1alpha1" //nolint:staticcheck // the core webhooks convert from it
	runtimev1 "sigs.k8s.io/cluster-api/api/runtime/v1beta2"
	"sigs.k8s.io/cluster-api/bootstrap/kubeadm/reconcilers/kubeadmconfig"
	bootstrapsetup "sigs.k8s.io/cluster-api/bootstrap/kubeadm/setup"
	bootstrapadmission "sigs.k8s.io/cluster-api/bootstrap/kubeadm/webhooks/admission"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/core/reconcilers/cluster"
	"sigs.k8s.io/cluster-api/core/reconcilers/clusterclass"
	"sigs.k8s.io/cluster-api/core/reconcilers/clusterresourceset"
	"sigs.k8s.io/cluster-api/core/reconcilers/clusterresourcesetbinding"
	"sigs.k8s.io/cluster-api/core/reconcilers/machine"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinedeployment"
	"sigs.k8s.io/cluster-api/core/reconcilers/machinehealthcheck"
	"sigs.k8s.io/cluster-api/core/reconcilers/machineset"
	topologycluster "sigs.k8s.io/cluster-api/core/reconcilers/topology/cluster"
	topologymachinedeployment "sigs.k8s.io/cluster-api/core/reconcilers/topology/machinedeployment"
	topologymachineset "sigs.k8s.io/cluster-api/core/reconcilers/topology/machineset"
	"sigs.k8s.io/cluster-api/core/setup"
	coreadmission "sigs.k8s.io/cluster-api/core/webhooks/admission"
	"sigs.k8s.io/cluster-api/feature"
	"sigs.k8s.io/cluster-api/util/index"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

const capiControllerName = "cluster-api-controller-manager"

// capiScheme holds every kind Cluster API's core webhooks and reconcilers handle or read (CRDs included: the
// contract version of a provider's kind is read from its CRD's labels), older API versions included: the
// webhooks register hub/spoke converters.
func capiScheme(base *runtime.Scheme) (*runtime.Scheme, error) {
	for _, add := range []func(*runtime.Scheme) error{
		apiextensionsv1.AddToScheme, clusterv1beta1.AddToScheme, addonsv1.AddToScheme, addonsv1beta1.AddToScheme,
		bootstrapv1.AddToScheme, bootstrapv1beta1.AddToScheme, controlplanev1.AddToScheme, controlplanev1beta1.AddToScheme,
		ipamv1.AddToScheme, ipamv1beta1.AddToScheme, ipamv1alpha1.AddToScheme,
		runtimev1.AddToScheme, runtimev1alpha1.AddToScheme,
	} {
		if err := add(base); err != nil {
			return nil, err
		}
	}
	return base, nil
}

// startCAPI starts Cluster API's core manager in-process and returns when its webhooks serve. It stops when
// ctx is cancelled; done is closed then.
func startCAPI(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, hooks webhook.Options) (done <-chan struct{}, err error) {
	// The production core manager's --feature-gates=ClusterTopology=true (clusterctl's CLUSTER_TOPOLOGY=true):
	// the Cluster webhook refuses spec.topology without it.
	if err := feature.MutableGates.Set(string(feature.ClusterTopology) + "=true"); err != nil {
		return nil, err
	}
	syncPeriod := 10 * time.Minute
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 300
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:        scheme,
		Metrics:       metricsserver.Options{BindAddress: "0"},
		Cache:         setup.ManagerCacheOptions(scheme, capiControllerName, "", syncPeriod),
		Client:        setup.ManagerClientOptions(),
		WebhookServer: webhook.NewServer(hooks),
	})
	if err != nil {
		return nil, fmt.Errorf("creating Cluster API's manager: %w", err)
	}
	if err := index.AddDefaultIndexes(ctx, mgr); err != nil {
		return nil, err
	}
	secrets, err := setup.CreateSecretCachingClient(mgr)
	if err != nil {
		return nil, err
	}
	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient: secrets,
		Cache:        setup.ClusterCacheCacheOptions(),
		Client:       setup.ClusterCacheClientOptions(capiControllerName, 50, 100),
	}, concurrency(10))
	if err != nil {
		return nil, fmt.Errorf("creating the ClusterCache: %w", err)
	}
	if err := setupCAPIReconcilers(ctx, mgr, clusterCache); err != nil {
		return nil, err
	}
	if err := setupCAPIWebhooks(mgr, clusterCache); err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Println("cluster-api manager:", err)
		}
	}()
	return stopped, nil
}

func concurrency(n int) controller.Options { return controller.Options{MaxConcurrentReconciles: n} }

func setupCAPIReconcilers(ctx context.Context, mgr ctrl.Manager, cc clustercache.ClusterCache) error {
	if err := (&cluster.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc,
		RemoteConnectionGracePeriod: 50 * time.Second,
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("cluster controller: %w", err)
	}
	if err := (&machine.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc,
		RemoteConditionsGracePeriod: 5 * time.Minute,
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("machine controller: %w", err)
	}
	if err := (&machineset.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc,
		PreflightChecks: sets.New(clusterv1.MachineSetPreflightCheckAll),
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("machineset controller: %w", err)
	}
	if err := (&machinedeployment.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("machinedeployment controller: %w", err)
	}
	if err := (&machinehealthcheck.Reconciler{
		Client: mgr.GetClient(), ClusterCache: cc,
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("machinehealthcheck controller: %w", err)
	}
	if err := setupClusterResourceSetReconcilers(ctx, mgr, cc); err != nil {
		return err
	}
	return setupTopologyReconcilers(ctx, mgr, cc)
}

// setupClusterResourceSetReconcilers are the ClusterResourceSet reconcilers, which apply the flavors' CNI to
// the workload cluster. As core/main.go wires them, they watch Secrets (resources of a set) through a cache of
// Secret metadata of its own, without the cluster-name label selector of the manager's cache.
func setupClusterResourceSetReconcilers(ctx context.Context, mgr ctrl.Manager, cc clustercache.ClusterCache) error {
	partialSecretCache, err := ctrlcache.New(mgr.GetConfig(), ctrlcache.Options{
		Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(), HTTPClient: mgr.GetHTTPClient(),
		DefaultTransform: func(in any) (any, error) {
			if obj, ok := in.(*metav1.PartialObjectMetadata); ok {
				obj.SetManagedFields(nil)
			}
			return in, nil
		},
	})
	if err != nil {
		return fmt.Errorf("cache of Secret metadata: %w", err)
	}
	if err := mgr.Add(partialSecretCache); err != nil {
		return err
	}
	if err := (&clusterresourceset.Reconciler{
		Client: mgr.GetClient(), ClusterCache: cc,
	}).SetupWithManager(ctx, mgr, concurrency(10), partialSecretCache); err != nil {
		return fmt.Errorf("clusterresourceset controller: %w", err)
	}
	if err := (&clusterresourcesetbinding.Reconciler{Client: mgr.GetClient()}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("clusterresourcesetbinding controller: %w", err)
	}
	return nil
}

// setupTopologyReconcilers are the ClusterClass and managed-topology reconcilers (no Runtime SDK: no hooks).
func setupTopologyReconcilers(ctx context.Context, mgr ctrl.Manager, cc clustercache.ClusterCache) error {
	if err := (&clusterclass.Reconciler{Client: mgr.GetClient()}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("clusterclass controller: %w", err)
	}
	if err := (&topologycluster.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), ClusterCache: cc,
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("topology cluster controller: %w", err)
	}
	if err := (&topologymachinedeployment.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("topology machinedeployment controller: %w", err)
	}
	if err := (&topologymachineset.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return fmt.Errorf("topology machineset controller: %w", err)
	}
	return nil
}

const cabpkControllerName = "cluster-api-kubeadm-bootstrap-manager"

// startCABPK starts the kubeadm bootstrap provider's reconciler in-process on a manager of its own, wired as
// sigs.k8s.io/cluster-api/bootstrap/kubeadm/main.go (v1.14.2) wires it: its cache keeps the data of the
// cluster's certificate Secrets, which the core manager's drops. Its webhooks are served by the core manager
// (startCAPI): one local serving address, and admission needs no cache. Pools whose Machines name a
// KubeadmConfig get the bootstrap data it renders, join token included.
func startCABPK(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (done <-chan struct{}, err error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 300
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   bootstrapsetup.ManagerCacheOptions(scheme, cabpkControllerName, "", 10*time.Minute),
		Client:  bootstrapsetup.ManagerClientOptions(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the kubeadm bootstrap provider's manager: %w", err)
	}
	secrets, err := bootstrapsetup.CreateSecretCachingClient(mgr)
	if err != nil {
		return nil, err
	}
	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient: secrets,
		Cache:        bootstrapsetup.ClusterCacheCacheOptions(),
		Client:       bootstrapsetup.ClusterCacheClientOptions(cabpkControllerName, 20, 30),
	}, controller.Options{MaxConcurrentReconciles: 10,
		// The core manager's ClusterCache controller has the same name in this process; in production each
		// runs in its own.
		SkipNameValidation: ptr.To(true)})
	if err != nil {
		return nil, fmt.Errorf("creating the kubeadm bootstrap provider's ClusterCache: %w", err)
	}
	if err := (&kubeadmconfig.Reconciler{
		Client: mgr.GetClient(), SecretCachingClient: secrets, APIReader: mgr.GetAPIReader(), ClusterCache: clusterCache,
		TokenTTL: 15 * time.Minute,
	}).SetupWithManager(ctx, mgr, concurrency(10)); err != nil {
		return nil, fmt.Errorf("kubeadmconfig controller: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Println("kubeadm bootstrap manager:", err)
		}
	}()
	return stopped, nil
}

// setupCAPIWebhooks registers every core admission webhook whose configuration envtest installed.
func setupCAPIWebhooks(mgr ctrl.Manager, cc clustercache.ClusterCache) error {
	type setupper interface{ SetupWebhookWithManager(ctrl.Manager) error }
	for _, w := range []setupper{
		&coreadmission.ClusterClass{Client: mgr.GetClient()},
		&coreadmission.Cluster{Client: mgr.GetClient(), ClusterCacheReader: cc},
		&coreadmission.Machine{},
		&coreadmission.MachineSet{},
		&coreadmission.MachineDeployment{},
		&coreadmission.MachineDrainRule{},
		&coreadmission.MachinePool{},
		&coreadmission.ClusterResourceSet{},
		&coreadmission.ClusterResourceSetBinding{},
		&coreadmission.MachineHealthCheck{},
		&coreadmission.ExtensionConfig{},
		&coreadmission.IPAddress{Client: mgr.GetAPIReader()},
		&coreadmission.IPAddressClaim{},
		&bootstrapadmission.KubeadmConfig{},
		&bootstrapadmission.KubeadmConfigTemplate{},
	} {
		if err := w.SetupWebhookWithManager(mgr); err != nil {
			return fmt.Errorf("webhook %T: %w", w, err)
		}
	}
	return nil
}

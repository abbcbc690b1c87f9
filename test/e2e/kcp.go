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

// Cluster API's KubeadmControlPlane provider (KCP), in-process on a manager of its own as
// sigs.k8s.io/cluster-api/controlplane/kubeadm/main.go (v1.14.2) wires it, minus the CRD migrator and the
// in-place updates (an alpha feature). Its webhooks are served by the core manager, like CABPK's.
//
// How far it goes here: KCP generates the cluster's certificates, creates the first control-plane Machine with
// a KubeadmConfig that CABPK renders into `kubeadm init` user data, and our provider creates its server and
// puts it behind the load balancer. No kubeadm runs on a simulated server, so the harness plays the one thing
// of `kubeadm init` KCP reads to call the control plane initialized: the kube-system/kubeadm-config ConfigMap
// (playKubeadmInit). KCP then reports the control plane initialized and scales it; what it cannot do is check
// etcd members and the static pods of a real control plane (there are none): its EtcdClusterHealthy and
// ControlPlaneComponentsHealthy conditions never turn True.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/controlplane/kubeadm/reconcilers/kubeadmcontrolplane"
	kcpsetup "sigs.k8s.io/cluster-api/controlplane/kubeadm/setup"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

const kcpControllerName = "cluster-api-kubeadm-control-plane-manager"

// startKCP starts the KubeadmControlPlane reconciler on a manager of its own (its cache keeps the certificate
// Secrets' data, which the core manager's drops). It stops when ctx is cancelled; done is closed then.
func startKCP(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (done <-chan struct{}, err error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 200, 300
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   kcpsetup.ManagerCacheOptions(scheme, kcpControllerName, "", 10*time.Minute),
		Client:  kcpsetup.ManagerClientOptions(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the KubeadmControlPlane provider's manager: %w", err)
	}
	secrets, err := kcpsetup.CreateSecretCachingClient(mgr)
	if err != nil {
		return nil, err
	}
	clusterCache, err := clustercache.SetupWithManager(ctx, mgr, clustercache.Options{
		SecretClient: secrets,
		Cache:        kcpsetup.ClusterCacheCacheOptions(),
		Client:       kcpsetup.ClusterCacheClientOptions(kcpControllerName, 20, 30),
	}, controller.Options{MaxConcurrentReconciles: 10, SkipNameValidation: ptr.To(true)})
	if err != nil {
		return nil, fmt.Errorf("creating the KubeadmControlPlane provider's ClusterCache: %w", err)
	}
	if err := (&kubeadmcontrolplane.Reconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), SecretCachingClient: secrets, ClusterCache: clusterCache,
		EtcdDialTimeout: 2 * time.Second, EtcdCallTimeout: 5 * time.Second, RemoteConditionsGracePeriod: 5 * time.Minute,
		// No etcd answers on a simulated server: its client's retries are noise.
		EtcdLogger: zap.NewNop(),
	}).SetupWithManager(ctx, mgr, controller.Options{MaxConcurrentReconciles: 10, ReconciliationTimeout: time.Minute}); err != nil {
		return nil, fmt.Errorf("kubeadmcontrolplane controller: %w", err)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Println("kubeadm control plane manager:", err)
		}
	}()
	return stopped, nil
}

// kubeadmConfigMap is what `kubeadm init` uploads to kube-system and KCP reads (HasKubeadmConfig).
const kubeadmConfigMap = "kubeadm-config"

// playKubeadmInit does, for a server whose user data runs `kubeadm init`, what that kubeadm would do that KCP
// looks at: upload kube-system/kubeadm-config. All clusters of the harness share one API server, so the first
// initialised control plane initialises them all; scenarios that need a fresh one delete it (ResetKubeadmInit).
func (h *Harness) playKubeadmInit(vm vpsiesim.VM) {
	data, err := vm.DecodedUserData()
	if err != nil {
		return
	}
	parts, err := cloudinit.Read(data)
	if err != nil {
		return
	}
	init := false
	for _, p := range parts {
		init = init || strings.Contains(string(p.Body), "kind: InitConfiguration")
	}
	if !init {
		return
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: kubeadmConfigMap},
		Data:       map[string]string{"ClusterConfiguration": "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"},
	}
	if err := h.Client.Create(context.Background(), cm); err != nil && !apierrors.IsAlreadyExists(err) {
		h.logf("playing kubeadm init on %s: %v", vm.Hostname, err)
		return
	}
	h.logf("played kubeadm init on %s (kube-system/%s)", vm.Hostname, kubeadmConfigMap)
}

// ResetKubeadmInit removes what playKubeadmInit wrote, so that the next control plane starts uninitialised.
func (h *Harness) ResetKubeadmInit(ctx context.Context) error {
	err := h.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: kubeadmConfigMap}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

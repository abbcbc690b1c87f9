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

// Package e2e is the cloud-free end-to-end harness: a management cluster made of a local kube-apiserver and
// etcd (test/envtest) with kube-controller-manager, kube-scheduler and kwok (kube.go); Cluster API's core,
// topology and kubeadm bootstrap controllers and webhooks (in-process, capi.go), its KubeadmControlPlane
// provider (its own binary, kcp.go); this provider's manager as its own process (built from this repository, provider.go) and the VPSie
// simulator, whose boots register a Node in the workload cluster (the same API server) for kwok to run.
// docs/development.md lists the parts and what is still played by hand. The scenarios are the package's
// tests; cmd/demo reuses the harness.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/envtest"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// Credentials the simulator accepts; the harness puts them in every cluster's credentials Secret (the client
// id and secret instead of the token with ClusterOptions.ClientCredentials).
const (
	SimToken        = "e2e-token"
	SimPassword     = "e2e-account-password"
	SimClientID     = "e2e-client-id-5b1f"
	SimClientSecret = "e2e-client-secret-c3a9e7"
)

// SimTokenLifetime is the lifetime of the access tokens the simulator issues at login: short, so that clusters
// using the client id and secret see their tokens expire (scenarios using the static token are unaffected).
const SimTokenLifetime = 20 * time.Second

// Options tune a Harness.
type Options struct {
	// BootDelay is how long a server stays pending in the simulator (default 500ms).
	BootDelay time.Duration
	// DeleteDelay is how long a deleted server stays listed in the simulator (default: gone at once).
	DeleteDelay time.Duration
	// ProductionDefaults runs the provider's manager with its production waits and API budget instead of the
	// harness's short ones (the benchmark's setting).
	ProductionDefaults bool
	// ProviderLog receives the provider manager's output (default: a file in the work folder).
	ProviderLog io.Writer
	// Logf reports the harness's own events (default: discarded).
	Logf func(format string, args ...any)
}

// Harness is a running management cluster with the simulator behind it.
type Harness struct {
	Env    *envtest.Environment
	Client client.Client
	Sim    *vpsiesim.Server
	// SimRequests records every API request the simulator answered, with its time and outcome.
	SimRequests *RequestLog
	Provider    *Provider
	// KubeconfigPath reaches the management (and workload) API server as an administrator.
	KubeconfigPath string
	// ProviderKubeconfigPath is the provider's: ProviderUser, with the permissions of config/rbac only.
	ProviderKubeconfigPath string
	// SSHKey is the identifier of the SSH key the simulator's account holds, which the flavors name.
	SSHKey string
	// WorkDir holds the provider's binary, kubeconfig, certificates and log; removed by Stop.
	WorkDir string

	logf      func(format string, args ...any)
	cancel    context.CancelFunc
	capiDone  <-chan struct{}
	cabpkDone <-chan struct{}
	// components are kube-controller-manager, kube-scheduler, kwok (kube.go) and KCP (kcp.go).
	components []*component
	mu         sync.Mutex
	kubeletID  map[string]bool // namespace -> the "kubelet" sets spec.providerID (default true)
}

// Start brings the whole management cluster up. Stop it with Stop, also after an error-free partial start.
func Start(opts Options) (h *Harness, err error) {
	if opts.BootDelay == 0 {
		opts.BootDelay = 500 * time.Millisecond
	}
	h = &Harness{logf: opts.Logf, kubeletID: map[string]bool{}}
	if h.logf == nil {
		h.logf = func(string, ...any) {}
	}
	defer func() {
		if err != nil {
			h.Stop()
			h = nil
		}
	}()
	if h.WorkDir, err = os.MkdirTemp("", "capvpsie-e2e-"); err != nil {
		return h, err
	}

	// The provider builds while the control plane starts.
	built := make(chan error, 1)
	binary := filepath.Join(h.WorkDir, "manager")
	kcpBinary := filepath.Join(h.WorkDir, "kubeadm-control-plane")
	go func() {
		// One after the other: two builds at once would only share the same cores.
		if err := buildProvider(binary); err != nil {
			built <- err
			return
		}
		built <- buildKCP(kcpBinary)
	}()

	capiHooks, err := envtest.ClusterAPIWebhookPath()
	if err != nil {
		return h, err
	}
	bootstrapCRDs, err := envtest.ClusterAPIBootstrapCRDPath()
	if err != nil {
		return h, err
	}
	controlPlaneCRDs, err := envtest.ClusterAPIControlPlaneCRDPath()
	if err != nil {
		return h, err
	}
	h.logf("starting the local control plane (kube-apiserver, etcd)")
	if h.Env, err = envtest.Start(envtest.Options{
		CRDDirectoryPaths: []string{envtest.ProviderCRDPath(), bootstrapCRDs, controlPlaneCRDs},
		AddToScheme:       []func(*kruntime.Scheme) error{infrav1.AddToScheme, bootstrapv1.AddToScheme, controlplanev1.AddToScheme},
		WebhookPaths:      []string{capiHooks},
	}); err != nil {
		return h, err
	}
	h.Client = h.Env.Client
	h.KubeconfigPath = filepath.Join(h.WorkDir, "kubeconfig")
	if err := os.WriteFile(h.KubeconfigPath, h.Env.KubeConfig(), 0o600); err != nil {
		return h, err
	}
	providerKubeConfig, err := h.providerKubeConfig(context.Background())
	if err != nil {
		return h, err
	}
	h.ProviderKubeconfigPath = filepath.Join(h.WorkDir, "provider.kubeconfig")
	if err := os.WriteFile(h.ProviderKubeconfigPath, providerKubeConfig, 0o600); err != nil {
		return h, err
	}

	h.logf("starting kube-controller-manager, kube-scheduler and kwok")
	if err := h.startKubeComponents(); err != nil {
		return h, err
	}

	h.logf("starting Cluster API core controllers and webhooks (in-process)")
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	scheme, err := capiScheme(h.Env.Scheme)
	if err != nil {
		return h, err
	}
	if err := h.labelKubeadmCRDs(context.Background()); err != nil {
		return h, err
	}
	h.logf("starting Cluster API's kubeadm bootstrap provider (in-process)")
	if h.cabpkDone, err = startCABPK(ctx, h.Env.Config, scheme); err != nil {
		return h, err
	}
	hooks := h.Env.WebhookServerOptions()
	if h.capiDone, err = startCAPI(ctx, h.Env.Config, scheme, hooks); err != nil {
		return h, err
	}
	bootstrapHooks, err := envtest.ClusterAPIBootstrapWebhookPath()
	if err != nil {
		return h, err
	}
	if err := h.installWebhooks(bootstrapHooks, "kubeadm-bootstrap-", fmt.Sprintf("https://%s:%d", hooks.Host, hooks.Port)); err != nil {
		return h, err
	}

	h.SimRequests = &RequestLog{}
	h.Sim = vpsiesim.NewServer(vpsiesim.Options{
		Tokens: []string{SimToken}, AccountPassword: SimPassword,
		ClientID: SimClientID, ClientSecret: SimClientSecret, TokenLifetime: SimTokenLifetime,
		BootDelay: opts.BootDelay, DeleteDelay: opts.DeleteDelay, LBPendingDelay: 300 * time.Millisecond, Seed: 1,
		Logger: log.New(h.SimRequests, "", 0),
	})
	h.SSHKey = h.Sim.AddSSHKey("e2e", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2eE2e e2e").Identifier
	h.Sim.OnVMBoot(h.registerNode)
	h.Sim.OnVMBoot(h.playKubeadmInit)
	h.Sim.OnVMDelete(h.unregisterNode)
	h.logf("VPSie simulator at %s", h.Sim.URL)

	if err := <-built; err != nil {
		return h, err
	}
	h.logf("starting Cluster API's KubeadmControlPlane provider (%s)", kcpBinary)
	if err := h.startKCP(kcpBinary); err != nil {
		return h, err
	}
	h.logf("starting the provider's manager (%s)", binary)
	if h.Provider, err = newProvider(binary, h, opts.ProviderLog, opts.ProductionDefaults); err != nil {
		return h, err
	}
	if err := h.Provider.Start(); err != nil {
		return h, err
	}
	if err := h.installProviderWebhooks(); err != nil {
		return h, err
	}
	if err := h.waitForWebhooks(); err != nil {
		return h, err
	}
	return h, nil
}

// RestartProvider restarts the provider's manager (with the flags SetExtraFlags gave) and waits until its
// webhooks answer.
func (h *Harness) RestartProvider() error {
	if err := h.Provider.Restart(); err != nil {
		return err
	}
	return h.waitForWebhooks()
}

// waitForWebhooks dry-runs objects served by both webhook servers until they answer.
func (h *Harness) waitForWebhooks() error {
	probeCluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "webhook-probe"},
		Spec: clusterv1.ClusterSpec{InfrastructureRef: clusterv1.ContractVersionedObjectReference{
			APIGroup: infrav1.GroupVersion.Group, Kind: "VPSieCluster", Name: "webhook-probe",
		}},
	}
	if err := h.Env.WaitForWebhooks(probeCluster); err != nil {
		return fmt.Errorf("cluster API webhooks: %w", err)
	}
	probe := &infrav1.VPSieMachineTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "webhook-probe"}}
	probe.Spec.Template.Spec.Plan = vpsiesim.DefaultPlan
	probe.Spec.Template.Spec.Image = vpsiesim.DefaultImage
	if err := h.Env.WaitForWebhooks(probe); err != nil {
		return fmt.Errorf("provider webhooks: %w (provider log: %s)", err, h.Provider.LogPath)
	}
	return nil
}

// Stop shuts everything down and removes the work folder. It is safe on a partly started harness.
func (h *Harness) Stop() {
	if h.Provider != nil {
		h.Provider.Stop()
	}
	if h.cancel != nil {
		h.cancel()
		if h.capiDone != nil {
			<-h.capiDone
		}
		if h.cabpkDone != nil {
			<-h.cabpkDone
		}
	}
	if h.Sim != nil {
		h.Sim.Close()
	}
	h.stopKubeComponents()
	if h.Env != nil {
		_ = h.Env.Stop()
	}
	if h.WorkDir != "" {
		_ = os.RemoveAll(h.WorkDir)
	}
}

// SetKubeletSetsProviderID chooses, for servers of clusters in namespace, whether the simulated kubelet
// registers its Node with spec.providerID (true, the default) or leaves it empty for the provider to set.
func (h *Harness) SetKubeletSetsProviderID(namespace string, set bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.kubeletID[namespace] = set
}

func (h *Harness) kubeletSetsProviderID(namespace string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	set, ok := h.kubeletID[namespace]
	return !ok || set
}

// vmNamespace is the namespace of the cluster a server belongs to, from its ownership tag.
func vmNamespace(vm vpsiesim.VM) string {
	for _, t := range vm.Tags {
		if rest, ok := strings.CutPrefix(t, scope.TagCluster); ok {
			ns, _, _ := strings.Cut(rest, "/")
			return ns
		}
	}
	return ""
}

// registerNode does what a server's kubelet does when it first starts: it registers a Node named after the
// server's hostname with the server's addresses, and capacity and allocatable from its plan (so the scheduler
// places pods as it would on the real server). Then it hands the Node to kwok (kwokManagedLabel), which
// reports it Ready, renews its lease and runs the pods bound to it.
func (h *Harness) registerNode(vm vpsiesim.VM) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   vm.Hostname,
		Labels: map[string]string{corev1.LabelHostname: vm.Hostname, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"},
	}}
	if h.kubeletSetsProviderID(vmNamespace(vm)) {
		node.Spec.ProviderID = infrav1.ProviderIDPrefix + vm.Identifier
	}
	if err := h.Client.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
		h.logf("registering Node %s: %v", vm.Hostname, err)
		return
	}
	addresses := []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: vm.Hostname}}
	if vm.PrivateIP != "" {
		addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: vm.PrivateIP})
	}
	if vm.PublicIPv4 != "" {
		addresses = append(addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: vm.PublicIPv4})
	}
	resources := nodeResources(vm)
	status := client.MergeFrom(node.DeepCopy())
	node.Status = corev1.NodeStatus{
		Addresses: addresses, Capacity: resources, Allocatable: resources,
		NodeInfo: corev1.NodeSystemInfo{Architecture: "amd64", OperatingSystem: "linux", KubeletVersion: "v1.36.3"},
	}
	if err := h.Client.Status().Patch(ctx, node, status); err != nil {
		h.logf("reporting Node %s: %v", vm.Hostname, err)
		return
	}
	h.setKwokManaged(ctx, vm.Hostname, true)
}

// nodeResources is what a kubelet reports for a server of the VM's plan: its cores, memory and disk, and the
// kubelet's default of 110 pods.
func nodeResources(vm vpsiesim.VM) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(vm.CPU), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(int64(vm.RAM)<<20, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(int64(vm.SSD)<<30, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(110, resource.DecimalSI),
	}
}

// setKwokManaged hands a Node to kwok, or takes it back: kwok then stops renewing its lease.
func (h *Harness) setKwokManaged(ctx context.Context, name string, managed bool) {
	value := "null"
	if managed {
		value = `"true"`
	}
	patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, kwokManagedLabel, value)))
	if err := h.Client.Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, patch); err != nil && !apierrors.IsNotFound(err) {
		h.logf("setting Node %s managed by kwok to %t: %v", name, managed, err)
	}
}

// unregisterNode follows a server that is gone, deleted through the API or vanished behind its back: its
// kubelet is gone with it, so kwok stops playing it. The node lifecycle controller then turns the Node
// Ready=Unknown after its grace period; the Node object stays until Cluster API deletes it (VPSie has no cloud
// controller manager to do so).
func (h *Harness) unregisterNode(vm vpsiesim.VM) {
	h.setKwokManaged(context.Background(), vm.Hostname, false)
}

// ClusterVMs are the simulator's live servers (pending ones included) of a cluster.
func (h *Harness) ClusterVMs(namespace, cluster string) []vpsiesim.VM {
	tag := scope.TagCluster + namespace + "/" + cluster
	var out []vpsiesim.VM
	for _, vm := range h.Sim.VMs() {
		if vm.Live() && hasTag(vm.Tags, tag) {
			out = append(out, vm)
		}
	}
	return out
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// errTimeout is what Poll returns when the condition never held.
var errTimeout = errors.New("timed out")

// Poll calls cond every interval until it returns true, an error, or timeout passes. The last error message
// cond gave through its string result is part of the timeout error.
func Poll(ctx context.Context, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		ok, why, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w after %s: %s", errTimeout, timeout, last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// How long the harness waits for Cluster API and the provider to converge.
const (
	timeoutShort = 30 * time.Second
	timeoutLong  = 3 * time.Minute
)

// ClusterDeletedVMs are the simulator's servers of a cluster that are gone (deleted or vanished).
func (h *Harness) ClusterDeletedVMs(namespace, cluster string) []vpsiesim.VM {
	tag := scope.TagCluster + namespace + "/" + cluster
	var out []vpsiesim.VM
	for _, vm := range h.Sim.DeletedVMs() {
		if hasTag(vm.Tags, tag) {
			out = append(out, vm)
		}
	}
	return out
}

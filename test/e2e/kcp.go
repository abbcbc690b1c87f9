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

// Cluster API's KubeadmControlPlane provider (KCP): its own binary (sigs.k8s.io/cluster-api/controlplane/kubeadm
// at the version go.mod requires), built per run like the provider's manager and run as its own process with
// its webhooks served on a free local port with envtest's certificate. Not in-process like the core and CABPK:
// KCP's etcd client dials through a port-forward whose SPDY round tripper is written concurrently (a data race in
// k8s.io/streaming, reported by -race in the test binary); a production KCP is a separate, non-race binary too.
//
// How far it goes here: KCP generates the cluster's certificates, creates the first control-plane Machine with
// a KubeadmConfig that CABPK renders into `kubeadm init` user data, and our provider creates its server and
// puts it behind the load balancer. No kubeadm runs on a simulated server, so the harness plays the one thing
// of `kubeadm init` KCP reads to call the control plane initialized: the kube-system/kubeadm-config ConfigMap
// (playKubeadmInit). KCP then reports the control plane initialized and the workers join; what it cannot do is
// check etcd members and the static pods of a real control plane (there are none): its EtcdClusterHealthy and
// ControlPlaneComponentsHealthy conditions never turn True.

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/envtest"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// kcpPackage is the KubeadmControlPlane provider's main package, a tool of go.mod (so its dependencies stay pinned there).
const kcpPackage = "sigs.k8s.io/cluster-api/controlplane/kubeadm"

// buildKCP builds KCP's binary from the module cache (seconds with a warm build cache).
func buildKCP(binary string) error {
	cmd := exec.Command("go", "build", "-o", binary, kcpPackage)
	cmd.Dir = repoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the KubeadmControlPlane provider: %w\n%s", err, out)
	}
	return nil
}

// startKCP runs KCP's binary, installs its webhook configurations pointed at it and waits until it is ready.
func (h *Harness) startKCP(binary string) error {
	webhookPort, err := freePort()
	if err != nil {
		return err
	}
	healthPort, err := freePort()
	if err != nil {
		return err
	}
	kcp, err := startComponent(h.WorkDir, "kubeadm-control-plane", binary,
		"--kubeconfig", h.KubeconfigPath, "--leader-elect=false", "--feature-gates=ClusterTopology=true",
		"--webhook-port", strconv.Itoa(webhookPort), "--webhook-cert-dir", h.Env.WebhookInstallOptions().LocalServingCertDir,
		"--health-addr", fmt.Sprintf("127.0.0.1:%d", healthPort),
		"--insecure-diagnostics", "--diagnostics-address", "127.0.0.1:0",
		"--etcd-dial-timeout-duration", "2s", "--v", "2")
	if err != nil {
		return err
	}
	h.components = append(h.components, kcp)
	hooks, err := envtest.ClusterAPIControlPlaneWebhookPath()
	if err != nil {
		return err
	}
	if err := h.installWebhooks(hooks, "kubeadm-control-plane-", fmt.Sprintf("https://127.0.0.1:%d", webhookPort)); err != nil {
		return err
	}
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", healthPort)
	return Poll(context.Background(), time.Minute, func(context.Context) (bool, string, error) {
		if kcp.Exited() {
			return false, "", fmt.Errorf("the KubeadmControlPlane provider exited: %s", tail(kcp.LogPath, 20))
		}
		resp, err := http.Get(ready) //nolint:gosec,noctx // a local health endpoint
		if err != nil {
			return false, err.Error(), nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, "readyz: " + resp.Status, nil
	})
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

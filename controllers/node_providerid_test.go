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

package controllers

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
)

// createNode registers a Node in the "workload cluster" (the test API server itself), as a kubelet would.
func createNode(t *testing.T, name, providerID string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: providerID}}
	NewWithT(t).Expect(k8s.Create(context.Background(), node)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), node) })
	return node
}

func nodeProviderID(g Gomega, name string) string {
	node := &corev1.Node{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKey{Name: name}, node)).To(Succeed())
	return node.Spec.ProviderID
}

// TestNodeProviderID: VPSie's cloud-controller-manager sets no providerIDs, so when the kubelet was not told
// one, the provider sets it on the Node named after the server, and Cluster API can link Machine and Node.
func TestNodeProviderID(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	// The workload cluster's kubeconfig, as the control-plane provider writes it.
	secret := kubeconfig.GenerateSecret(cluster, kubeconfig.FromEnvTestConfig(testEnvConfig, cluster))
	g.Expect(k8s.Create(context.Background(), secret)).To(Succeed())

	t.Run("kubelet left it empty", func(t *testing.T) {
		g := NewWithT(t)
		_, vm := createMachine(t, cluster, "empty-id", machineOptions{})
		cur := waitProvisioned(t, vm)
		hostname := scope.MachineHostname(testIdentity, ns, "empty-id")
		createNode(t, hostname, "")
		g.Eventually(func(g Gomega) string { return nodeProviderID(g, hostname) }, eventually, poll).
			Should(Equal(cur.Spec.ProviderID))
	})

	t.Run("kubelet set it", func(t *testing.T) {
		g := NewWithT(t)
		hostname := scope.MachineHostname(testIdentity, ns, "kubelet-id")
		_, vm := createMachine(t, cluster, "kubelet-id", machineOptions{})
		cur := waitProvisioned(t, vm)
		createNode(t, hostname, cur.Spec.ProviderID)
		g.Consistently(func(g Gomega) string { return nodeProviderID(g, hostname) }, "2s", poll).
			Should(Equal(cur.Spec.ProviderID))
	})

	t.Run("another provider's node is left alone", func(t *testing.T) {
		g := NewWithT(t)
		hostname := scope.MachineHostname(testIdentity, ns, "foreign")
		createNode(t, hostname, "other://node")
		_, vm := createMachine(t, cluster, "foreign", machineOptions{})
		waitProvisioned(t, vm)
		g.Consistently(func(g Gomega) string { return nodeProviderID(g, hostname) }, "2s", poll).
			Should(Equal("other://node"))
	})
}

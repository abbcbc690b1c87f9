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
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

const bootstrapData = "#cloud-config\nruncmd: [kubeadm join]\n"

// readyCluster creates a Cluster with a provisioned VPSieCluster and marks the Cluster's infrastructure
// provisioned, as Cluster API's Cluster controller would.
func readyCluster(t *testing.T, namespace string, mutate ...func(*clusterv1.Cluster, *infrav1.VPSieCluster)) (*clusterv1.Cluster, *infrav1.VPSieCluster) {
	t.Helper()
	createCredentialsSecret(t, namespace, "creds", nil)
	cluster, _ := createCluster(t, namespace, "demo", "creds", mutate...)
	vc := waitClusterReady(t, namespace, "demo")
	g := NewWithT(t)
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(cluster), cluster)).To(Succeed())
	patch := client.MergeFrom(cluster.DeepCopy())
	cluster.Status.Initialization.InfrastructureProvisioned = ptr.To(true)
	g.Expect(k8s.Status().Patch(context.Background(), cluster, patch)).To(Succeed())
	return cluster, vc
}

type machineOptions struct {
	controlPlane  bool
	noBootstrap   bool
	mutateMachine func(*infrav1.VPSieMachine)
}

// createMachine creates a Machine with bootstrap data and its VPSieMachine, owned and labelled as Cluster
// API's Machine controller would. When the test ends the VPSieMachine is deleted (its server too).
func createMachine(t *testing.T, cluster *clusterv1.Cluster, name string, o machineOptions) (*clusterv1.Machine, *infrav1.VPSieMachine) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	labels := map[string]string{clusterv1.ClusterNameLabel: cluster.Name}
	if o.controlPlane {
		labels[clusterv1.MachineControlPlaneLabel] = ""
	}
	machine := &clusterv1.Machine{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: name, Labels: labels},
		Spec: clusterv1.MachineSpec{
			ClusterName: cluster.Name,
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: infrav1.GroupVersion.Group, Kind: "VPSieMachine", Name: name,
			},
		},
	}
	if !o.noBootstrap {
		secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: name + "-bootstrap"},
			StringData: map[string]string{"value": bootstrapData, "format": "cloud-config"}}
		g.Expect(k8s.Create(ctx, secret)).To(Succeed())
		machine.Spec.Bootstrap.DataSecretName = ptr.To(secret.Name)
	} else {
		machine.Spec.Bootstrap.ConfigRef = clusterv1.ContractVersionedObjectReference{
			APIGroup: "bootstrap.cluster.x-k8s.io", Kind: "KubeadmConfig", Name: name,
		}
	}
	g.Expect(k8s.Create(ctx, machine)).To(Succeed())

	vm := &infrav1.VPSieMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: name, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: clusterv1.GroupVersion.String(), Kind: "Machine", Name: machine.Name, UID: machine.UID,
			}}},
		Spec: infrav1.VPSieMachineSpec{Plan: vpsiesim.DefaultPlan, Image: vpsiesim.DefaultImage},
	}
	if o.mutateMachine != nil {
		o.mutateMachine(vm)
	}
	g.Expect(k8s.Create(ctx, vm)).To(Succeed())
	t.Cleanup(func() {
		deleteMachine(t, vm)
		_ = k8s.Delete(ctx, machine)
	})
	return machine, vm
}

// deleteMachine deletes a VPSieMachine and waits until its finalizer let it go.
func deleteMachine(t *testing.T, vm *infrav1.VPSieMachine) {
	t.Helper()
	_ = k8s.Delete(context.Background(), vm)
	waitDeleted(t, &infrav1.VPSieMachine{ObjectMeta: metav1.ObjectMeta{Namespace: vm.Namespace, Name: vm.Name}})
}

func getVPSieMachine(g Gomega, vm *infrav1.VPSieMachine) *infrav1.VPSieMachine {
	cur := &infrav1.VPSieMachine{}
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(vm), cur)).To(Succeed())
	return cur
}

// waitProvisioned waits for the machine to be provisioned and Ready, and returns it.
func waitProvisioned(t *testing.T, vm *infrav1.VPSieMachine) *infrav1.VPSieMachine {
	t.Helper()
	var cur *infrav1.VPSieMachine
	NewWithT(t).Eventually(func(g Gomega) {
		cur = getVPSieMachine(g, vm)
		g.Expect(cur.Status.Initialization.Provisioned).To(HaveValue(BeTrue()), "conditions: %+v", cur.Status.Conditions)
		g.Expect(condition(cur, infrav1.ReadyCondition).Status).To(Equal(metav1.ConditionTrue))
	}, eventually, poll).Should(Succeed())
	return cur
}

func TestVPSieMachineLifecycle(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	_, vm := createMachine(t, cluster, "worker-1", machineOptions{mutateMachine: func(m *infrav1.VPSieMachine) {
		m.Spec.Tags = []string{"team-a"}
	}})

	cur := waitProvisioned(t, vm)
	hostname := scope.MachineHostname(testIdentity, ns, "worker-1")
	servers := sim.VMsByHostname(hostname)
	g.Expect(servers).To(HaveLen(1))
	server := servers[0]
	g.Expect(cur.Spec.ProviderID).To(Equal("vpsie://" + server.Identifier))
	g.Expect(cur.Status.ServerIdentifier).To(Equal(server.Identifier))
	g.Expect(cur.Status.Hostname).To(Equal(hostname))
	g.Expect(cur.Status.ServerState).To(Equal(infrav1.ServerStateRunning))
	g.Expect(cur.Status.FailureDomain).To(Equal(vpsiesim.DefaultDatacenter))
	g.Expect(cur.Status.Addresses).To(ContainElements(
		clusterv1.MachineAddress{Type: clusterv1.MachineExternalIP, Address: server.PublicIPv4},
		clusterv1.MachineAddress{Type: clusterv1.MachineHostName, Address: hostname},
	))
	g.Expect(condition(cur, infrav1.ServerReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.ProvisionedReason))
	g.Expect(server.Tags).To(ContainElements(scope.TagManaged, "capvpsie-cluster:"+ns+"/demo", "capvpsie-machine:worker-1", "team-a"))
	userData, err := server.DecodedUserData()
	g.Expect(err).NotTo(HaveOccurred())
	parts, err := cloudinit.Read(userData)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(parts).To(HaveLen(2), "the bootstrap data and the server's hostname")
	g.Expect(string(parts[0].Body)).To(Equal(bootstrapData), "bootstrap data is passed unchanged")
	g.Expect(string(parts[1].Body)).To(ContainSubstring("hostname: " + hostname + "\n"))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "worker-1") }, eventually, poll).
		Should(ContainElements("ServerPending", "Provisioned"))

	deleteMachine(t, vm)
	g.Expect(sim.VMs()).To(BeEmpty(), "deleting the VPSieMachine deletes its server")
	g.Expect(sim.DeletedVMs()).To(HaveLen(1))
	g.Expect(sim.RequestCount("POST /api/v2/vm")).To(Equal(1), "one server, one create")
}

func TestVPSieMachineWaits(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	cluster, _ := createCluster(t, ns, "demo", "creds")

	// The Cluster's infrastructure is not marked provisioned yet.
	_, early := createMachine(t, cluster, "early", machineOptions{})
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getVPSieMachine(g, early), infrav1.ServerReadyCondition)).
			To(haveCondition(metav1.ConditionFalse, infrav1.WaitingForClusterInfrastructureReason))
	}, eventually, poll).Should(Succeed())

	waitClusterReady(t, ns, "demo")
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(cluster), cluster)).To(Succeed())
	patch := client.MergeFrom(cluster.DeepCopy())
	cluster.Status.Initialization.InfrastructureProvisioned = ptr.To(true)
	g.Expect(k8s.Status().Patch(context.Background(), cluster, patch)).To(Succeed())

	_, noData := createMachine(t, cluster, "no-data", machineOptions{noBootstrap: true})
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getVPSieMachine(g, noData), infrav1.ServerReadyCondition)).
			To(haveCondition(metav1.ConditionFalse, infrav1.WaitingForBootstrapDataReason))
	}, eventually, poll).Should(Succeed())
	waitProvisioned(t, early)

	// Deleting a machine whose server was never created touches nothing in VPSie.
	deleteMachine(t, noData)
	g.Expect(sim.RequestCount("DELETE /api/v2/vm")).To(BeZero())
}

func TestVPSieMachineAdoptsServerAfterLostCreate(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns, func(o *vpsiesim.Options) { o.BootDelay = -1 })
	cluster, _ := readyCluster(t, ns)

	// The server was created, but the controller crashed before recording anything.
	hostname := scope.MachineHostname(testIdentity, ns, "worker-1")
	g.Expect(simClient(t, sim).CreateVM(context.Background(), vpsieCreate(hostname))).To(Succeed())
	g.Expect(sim.VMsByHostname(hostname)).To(HaveLen(1))

	_, vm := createMachine(t, cluster, "worker-1", machineOptions{})
	cur := waitProvisioned(t, vm)
	g.Expect(sim.VMsByHostname(hostname)).To(HaveLen(1), "adopted, not created again")
	g.Expect(cur.Spec.ProviderID).To(Equal("vpsie://" + sim.VMsByHostname(hostname)[0].Identifier))
	g.Expect(sim.RequestCount("POST /api/v2/vm")).To(Equal(1), "only the create made before the crash")
}

func TestVPSieMachineServerGone(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	_, vm := createMachine(t, cluster, "worker-1", machineOptions{})
	cur := waitProvisioned(t, vm)

	g.Expect(sim.VanishVM(cur.Status.ServerIdentifier)).To(Succeed())
	g.Eventually(func(g Gomega) {
		cur := getVPSieMachine(g, vm)
		g.Expect(condition(cur, infrav1.ServerReadyCondition)).To(haveCondition(metav1.ConditionFalse, infrav1.ServerNotFoundReason))
		g.Expect(cur.Status.ServerState).To(Equal(infrav1.ServerStateNotFound))
		g.Expect(condition(cur, infrav1.ReadyCondition).Status).To(Equal(metav1.ConditionFalse))
	}, eventually, poll).Should(Succeed())
	g.Expect(sim.VMs()).To(BeEmpty(), "a vanished server is reported, not silently replaced")

	deleteMachine(t, vm) // not found on delete is success
	g.Expect(sim.RequestCount("DELETE /api/v2/vm")).To(BeZero())
}

func TestVPSieMachinePaused(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(cluster), cluster)).To(Succeed())
	patch := client.MergeFrom(cluster.DeepCopy())
	cluster.Spec.Paused = ptr.To(true)
	g.Expect(k8s.Patch(context.Background(), cluster, patch)).To(Succeed())

	_, vm := createMachine(t, cluster, "worker-1", machineOptions{})
	g.Eventually(func(g Gomega) {
		g.Expect(condition(getVPSieMachine(g, vm), infrav1.PausedCondition).Status).To(Equal(metav1.ConditionTrue))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func() int { return len(sim.VMs()) + len(sim.PendingVMs()) }, 2*time.Second, poll).Should(BeZero())

	patch = client.MergeFrom(cluster.DeepCopy())
	cluster.Spec.Paused = ptr.To(false)
	g.Expect(k8s.Patch(context.Background(), cluster, patch)).To(Succeed())
	waitProvisioned(t, vm)
}

func TestVPSieMachineTerminalError(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	_, vm := createMachine(t, cluster, "worker-1", machineOptions{mutateMachine: func(m *infrav1.VPSieMachine) {
		m.Spec.Plan = "no-such-plan"
	}})
	g.Eventually(func(g Gomega) {
		c := condition(getVPSieMachine(g, vm), infrav1.ServerReadyCondition)
		g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.InvalidSpecReason))
		g.Expect(c.Message).To(ContainSubstring("no-such-plan"))
	}, eventually, poll).Should(Succeed())
	before := sim.RequestCount("POST /api/v2/vm")
	time.Sleep(3 * time.Second)
	g.Expect(sim.RequestCount("POST /api/v2/vm")-before).To(BeZero(), "no retry storm after a terminal error")
	g.Expect(before).To(Equal(1))
}

func TestVPSieMachineSurvivesRateLimiting(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, _ := readyCluster(t, ns)
	// From now on VPSie answers at most 8 requests every 2 seconds, with 429 and Retry-After beyond that.
	sim.SetFaults(vpsiesim.Faults{RateLimit: 8, RateLimitWindow: 2 * time.Second})
	var vms []*infrav1.VPSieMachine
	for i := range 4 {
		_, vm := createMachine(t, cluster, fmt.Sprintf("worker-%d", i), machineOptions{})
		vms = append(vms, vm)
	}
	for _, vm := range vms {
		waitProvisioned(t, vm)
	}
	g.Expect(sim.VMs()).To(HaveLen(4), "rate limiting delays, never duplicates")
	sim.SetFaults(vpsiesim.Faults{})
}

func TestVPSieMachineControlPlaneLoadBalancerBackend(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	cluster, vc := readyCluster(t, ns)
	lbID := vc.Status.LoadBalancer.Identifier
	g.Expect(lbID).NotTo(BeEmpty())

	_, cp := createMachine(t, cluster, "cp-1", machineOptions{controlPlane: true})
	cur := waitProvisioned(t, cp)
	g.Expect(condition(cur, infrav1.LoadBalancerBackendCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.ProvisionedReason))
	backends := func() []string {
		lb, err := simClient(t, sim).GetLoadBalancer(context.Background(), lbID)
		g.Expect(err).NotTo(HaveOccurred())
		var ids []string
		for _, r := range lb.Rules {
			for _, b := range r.Backends {
				ids = append(ids, string(b.VMIdentifier))
			}
		}
		return ids
	}
	g.Expect(backends()).To(ConsistOf(cur.Status.ServerIdentifier))

	_, worker := createMachine(t, cluster, "worker-1", machineOptions{})
	waitProvisioned(t, worker)
	g.Expect(backends()).To(ConsistOf(cur.Status.ServerIdentifier), "workers are not API server backends")

	deleteMachine(t, cp)
	g.Expect(backends()).To(BeEmpty(), "a deleted control-plane machine leaves the load balancer")
}

// TestVPSieMachineBatchPolling: 20 machines waiting for their servers cost a bounded number of VM lists per
// poll window, not one GET per machine per poll.
func TestVPSieMachineBatchPolling(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	const boot = 4 * time.Second
	sim := startSimulator(t, ns, func(o *vpsiesim.Options) { o.BootDelay = boot })
	cluster, _ := readyCluster(t, ns)
	sim.ResetCounters()
	start := time.Now()
	var vms []*infrav1.VPSieMachine
	for i := range 20 {
		_, vm := createMachine(t, cluster, fmt.Sprintf("worker-%02d", i), machineOptions{})
		vms = append(vms, vm)
	}
	for _, vm := range vms {
		waitProvisioned(t, vm)
	}
	elapsed := time.Since(start)
	lists := sim.RequestCount("GET /api/v2/vm")
	windows := int(elapsed/(200*time.Millisecond)) + 1
	t.Logf("20 machines booting for %s: %d VM lists over %d poll windows, %d single-VM reads, %d requests in all",
		elapsed.Round(time.Millisecond), lists, windows, sim.RequestCount("GET /api/v2/vm/{identifier}"), sim.TotalRequests())
	// One list per window while waiting: the creates rest on the shared list too (each machine's first
	// create needs a list taken after the machine was created, not one of its own).
	g.Expect(lists).To(BeNumerically("<=", windows+2))
	// Polling per machine would cost 20 machines × (boot / 200ms) reads.
	g.Expect(sim.RequestCount("GET /api/v2/vm/{identifier}")).To(BeNumerically("<", 20*int(boot/(200*time.Millisecond))/4))
	g.Expect(sim.RequestCount("POST /api/v2/vm")).To(Equal(20))
}

// vpsieCreate is the create request a machine of the default plan and image would send.
func vpsieCreate(hostname string) vpsie.CreateVMRequest {
	return vpsie.CreateVMRequest{
		ResourceIdentifier: vpsiesim.DefaultPlan, OSIdentifier: vpsiesim.DefaultImage,
		DcIdentifier: vpsiesim.DefaultDatacenter, Hostname: hostname, AddPublicIPv4: true,
		UserData: []byte(bootstrapData),
	}
}

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

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	addonsv1 "sigs.k8s.io/cluster-api/api/addons/v1beta2"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
)

// The default flavor as `clusterctl generate cluster` renders it, reconciled by the real KubeadmControlPlane
// provider: KCP generates the certificates and its first control-plane Machine, CABPK renders `kubeadm init`
// user data, the provider creates the server and puts it behind the load balancer. KCP stops where a real
// control plane is needed: the harness plays the kubeadm-config ConfigMap `kubeadm init` uploads (so KCP
// calls the control plane initialized and the workers join), and KCP's etcd and control-plane component
// checks, which read the static pods and etcd members of a real control plane, never pass.
func TestKubeadmControlPlaneFromTheDefaultFlavor(t *testing.T) {
	s := newFlavorScenario(t)
	c, err := h.CreateFlavorCluster(s.ctx, s.ns, "kcp", "cluster-template.yaml")
	s.g.Expect(err).NotTo(HaveOccurred())

	machines := s.waitRunning(c, nil, 3)
	cp := controlPlaneMachines(machines)
	s.g.Expect(cp).To(HaveLen(1), "control-plane Machines")
	s.g.Eventually(lbBackends, timeoutShort, 250*time.Millisecond).Should(ContainElement(serverID(cp[0])),
		"the control-plane Machine's server is a load balancer backend")
	s.expectUserData(c, cp[0], "kind: InitConfiguration")
	for _, m := range machines {
		if m.Name != cp[0].Name {
			s.expectUserData(c, m, "kind: JoinConfiguration")
		}
	}
	s.expectPlans(c, machines)
	network := s.expectPrivateAndFirewalled(c, machines)
	s.expectCNIApplied(c, machines)

	kcp := &controlplanev1.KubeadmControlPlane{}
	s.g.Eventually(func(g Gomega) {
		g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: s.ns, Name: "kcp-control-plane"}, kcp)).To(Succeed())
		g.Expect(ptr.Deref(kcp.Status.Initialization.ControlPlaneInitialized, false)).To(BeTrue(), "KCP reports the control plane initialized")
		// Where KCP stops: once its Machine has a Node, KCP reads etcd's members through a port-forward to the
		// Node's etcd pod, which does not exist here, so etcd's health stays Unknown (reason InspectionFailed or
		// HealthUnknown, by the step that failed). Before that, with no member to ask, KCP reports it True.
		etcd := conditions.Get(kcp, controlplanev1.KubeadmControlPlaneEtcdClusterHealthyCondition)
		g.Expect(etcd).NotTo(BeNil())
		g.Expect(etcd.Status).To(Equal(metav1.ConditionUnknown), "KCP's etcd check: %s %s", etcd.Reason, etcd.Message)
	}, timeoutShort, 250*time.Millisecond).Should(Succeed())
	t.Logf("where KCP stops: %s", conditionSummary(kcp.Status.Conditions))
	s.deleteCluster(c)
	s.g.Expect(h.Sim.LoadBalancers()).To(BeEmpty(), "load balancers left in the simulator")
	s.expectNetworkGone(network)
}

// A cluster of the topology flavor: the ClusterClass of templates/clusterclass-vpsie.yaml and the Cluster of
// templates/cluster-template-topology.yaml, reconciled by Cluster API's topology controllers, gets its
// control plane and workers Running; the workers are then scaled through Cluster.spec.topology.
func TestClusterClassTopology(t *testing.T) {
	s := newFlavorScenario(t)
	c, err := h.CreateFlavorCluster(s.ctx, s.ns, "topo", "clusterclass-vpsie.yaml", "cluster-template-topology.yaml")
	s.g.Expect(err).NotTo(HaveOccurred())
	machines := s.waitRunning(c, nil, 3)
	network := s.expectPrivateAndFirewalled(c, machines)
	s.expectCNIApplied(c, machines)

	for _, workers := range []int32{3, 1} {
		cluster := &clusterv1.Cluster{}
		s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: s.ns, Name: c.Name}, cluster)).To(Succeed())
		patch := client.MergeFrom(cluster.DeepCopy())
		cluster.Spec.Topology.Workers.MachineDeployments[0].Replicas = ptr.To(workers)
		s.g.Expect(h.Client.Patch(s.ctx, cluster, patch)).To(Succeed())
		machines := s.waitRunning(c, nil, 1+int(workers))
		s.expectServersMatch(c, machines)
		s.expectPlans(c, machines)
		network = s.expectPrivateAndFirewalled(c, machines)
		mds := &clusterv1.MachineDeploymentList{}
		s.g.Expect(h.Client.List(s.ctx, mds, client.InNamespace(s.ns), client.MatchingLabels{clusterv1.ClusterTopologyOwnedLabel: ""})).To(Succeed())
		s.g.Expect(mds.Items).To(HaveLen(1), "MachineDeployments the topology made")
		s.g.Expect(ptr.Deref(mds.Items[0].Spec.Replicas, 0)).To(Equal(workers), "the topology's MachineDeployment follows Cluster.spec.topology")
	}
	s.deleteCluster(c)
	s.expectNetworkGone(network)
}

// expectCNIApplied checks that Cluster API's ClusterResourceSet applied the flavor's CNI to the workload
// cluster: the cluster's ClusterResourceSetBinding reports the flannel ConfigMap applied, flannel's DaemonSet is
// in the workload cluster (the local API server, which every cluster of the suite shares), its VXLAN on the
// kubelet's node IP, and a flannel pod runs on the Node of every machine, control plane included (its
// tolerations and node affinity fit the Nodes the flavors make; kwok runs the pods).
func (s *scenario) expectCNIApplied(c *Cluster, machines []clusterv1.Machine) {
	s.t.Helper()
	s.g.Eventually(func(g Gomega) {
		binding := &addonsv1.ClusterResourceSetBinding{}
		g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Name}, binding)).To(Succeed())
		g.Expect(binding.Spec.Bindings).To(HaveLen(1))
		g.Expect(binding.Spec.Bindings[0].ClusterResourceSetName).To(Equal(c.Name + "-cni"))
		g.Expect(binding.Spec.Bindings[0].IsApplied(addonsv1.ResourceRef{Kind: "ConfigMap", Name: c.Name + "-cni-flannel"})).
			To(BeTrue(), "the flannel ConfigMap is applied to the workload cluster")
	}, timeoutShort, 250*time.Millisecond).Should(Succeed())
	ds := &appsv1.DaemonSet{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: "kube-flannel", Name: "kube-flannel-ds"}, ds)).To(Succeed())
	s.g.Expect(ds.Spec.Template.Spec.Containers[0].Env).To(ContainElement(corev1.EnvVar{Name: "FLANNELD_IFACE",
		ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.hostIP"}}}))
	var nodes []string
	for _, m := range machines {
		nodes = append(nodes, m.Status.NodeRef.Name)
	}
	s.g.Eventually(func(g Gomega) {
		pods := &corev1.PodList{}
		g.Expect(h.Client.List(s.ctx, pods, client.InNamespace("kube-flannel"), client.MatchingLabels{"app": "flannel"})).To(Succeed())
		running := map[string]bool{}
		for _, p := range pods.Items {
			running[p.Spec.NodeName] = running[p.Spec.NodeName] || p.Status.Phase == corev1.PodRunning
		}
		for _, n := range nodes {
			g.Expect(running).To(HaveKeyWithValue(n, true), "a flannel pod runs on Node %s", n)
		}
	}, timeoutShort, 250*time.Millisecond).Should(Succeed())
}

// clusterNetwork is a cluster's VPC and firewall group in VPSie.
type clusterNetwork struct {
	vpcID int
	group string
}

// expectPrivateAndFirewalled checks that the flavor put the cluster on a VPC behind its firewall group: every
// server of machines has an address in the cluster's VPC and carries the group (and the group no other server).
func (s *scenario) expectPrivateAndFirewalled(c *Cluster, machines []clusterv1.Machine) clusterNetwork {
	s.t.Helper()
	cluster := &clusterv1.Cluster{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Name}, cluster)).To(Succeed())
	vc := &infrav1.VPSieCluster{}
	s.g.Expect(h.Client.Get(s.ctx, client.ObjectKey{Namespace: c.Namespace, Name: cluster.Spec.InfrastructureRef.Name}, vc)).To(Succeed())
	s.g.Expect(vc.Status.Network.CIDR).To(Equal("10.42.0.0/16"), "the flavor's VPC")
	s.g.Expect(conditions.IsTrue(vc, infrav1.FirewallReadyCondition)).To(BeTrue(), "FirewallReady: %s", conditionSummary(vc.Status.Conditions))
	vpcID, err := strconv.Atoi(vc.Status.Network.VPCID)
	s.g.Expect(err).NotTo(HaveOccurred())
	group := vc.Status.Firewall.Identifier
	s.g.Expect(group).NotTo(BeEmpty())

	var servers []string
	for _, m := range machines {
		id := serverID(m)
		servers = append(servers, id)
		vm, ok := h.Sim.VM(id)
		s.g.Expect(ok).To(BeTrue(), "server of Machine %s", m.Name)
		s.g.Expect(vm.VPCID).To(Equal(vpcID), "the server of Machine %s is in the cluster's VPC", m.Name)
		s.g.Expect(vm.PrivateIP).To(HavePrefix("10.42."), "the server of Machine %s has an address in the VPC", m.Name)
	}
	s.g.Eventually(func(g Gomega) []string {
		for _, grp := range h.Sim.FirewallGroups() {
			if grp.Identifier == group {
				return grp.VMs
			}
		}
		return nil
	}, timeoutShort, 250*time.Millisecond).Should(ConsistOf(servers), "servers carrying the cluster's firewall group")
	return clusterNetwork{vpcID: vpcID, group: group}
}

// expectNetworkGone checks that a deleted cluster left neither its VPC nor its firewall group.
func (s *scenario) expectNetworkGone(n clusterNetwork) {
	for _, grp := range h.Sim.FirewallGroups() {
		s.g.Expect(grp.Identifier).NotTo(Equal(n.group), "the deleted cluster's firewall group is left")
	}
	for _, vpc := range h.Sim.VPCs() {
		s.g.Expect(vpc.ID).NotTo(Equal(n.vpcID), "the deleted cluster's VPC is left")
	}
}

// expectPlans checks that every server has the plan its role's flavor variable gives.
func (s *scenario) expectPlans(c *Cluster, machines []clusterv1.Machine) {
	plans := map[string]string{}
	for _, vm := range h.ClusterVMs(c.Namespace, c.Name) {
		plans[vm.Identifier] = vm.PlanIdentifier
	}
	for _, m := range machines {
		want := flavorVariables["VPSIE_WORKER_PLAN"]
		if _, cp := m.Labels[clusterv1.MachineControlPlaneLabel]; cp {
			want = flavorVariables["VPSIE_CONTROL_PLANE_PLAN"]
		}
		s.g.Expect(plans[serverID(m)]).To(Equal(want), "plan of the server of Machine %s", m.Name)
	}
}

// newFlavorScenario is a scenario whose control plane starts uninitialised (see playKubeadmInit).
func newFlavorScenario(t *testing.T) *scenario {
	s := newScenario(t, true)
	s.g.Expect(h.ResetKubeadmInit(s.ctx)).To(Succeed())
	t.Cleanup(func() { _ = h.ResetKubeadmInit(context.Background()) })
	return s
}

// expectUserData checks that the server of m received user data with a part containing want.
func (s *scenario) expectUserData(c *Cluster, m clusterv1.Machine, want string) {
	for _, vm := range h.ClusterVMs(c.Namespace, c.Name) {
		if vm.Identifier != serverID(m) {
			continue
		}
		data, err := vm.DecodedUserData()
		s.g.Expect(err).NotTo(HaveOccurred())
		parts, err := cloudinit.Read(data)
		s.g.Expect(err).NotTo(HaveOccurred())
		for _, p := range parts {
			if strings.Contains(string(p.Body), want) {
				return
			}
		}
		s.t.Fatalf("the server of Machine %s got no user data part with %q", m.Name, want)
	}
	s.t.Fatalf("Machine %s has no server", m.Name)
}

func conditionSummary(conds []metav1.Condition) string {
	var out []string
	for _, c := range conds {
		out = append(out, c.Type+"="+string(c.Status)+"/"+c.Reason)
	}
	return strings.Join(out, ", ")
}

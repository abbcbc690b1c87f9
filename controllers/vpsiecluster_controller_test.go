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
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

const (
	eventually = 30 * time.Second
	poll       = 100 * time.Millisecond
)

// waitClusterReady waits for Ready=True and status.initialization.provisioned and returns the VPSieCluster.
func waitClusterReady(t *testing.T, namespace, name string) *infrav1.VPSieCluster {
	t.Helper()
	var vc *infrav1.VPSieCluster
	NewWithT(t).Eventually(func(g Gomega) {
		vc = getVPSieCluster(g, namespace, name)
		g.Expect(condition(vc, infrav1.ReadyCondition).Status).To(Equal(metav1.ConditionTrue), "conditions: %+v", vc.Status.Conditions)
		g.Expect(vc.Status.Initialization.Provisioned).To(HaveValue(BeTrue()))
	}, eventually, poll).Should(Succeed())
	return vc
}

// waitDeleted waits until an object is gone from the API server.
func waitDeleted(t *testing.T, obj client.Object) {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj))
	}, eventually, poll).Should(BeTrue(), "%s was not deleted", client.ObjectKeyFromObject(obj))
}

// eventReasons lists the reasons of the events about the object named name in namespace.
func eventReasons(g Gomega, namespace, name string) []string {
	list := &eventsv1.EventList{}
	g.Expect(k8s.List(context.Background(), list, client.InNamespace(namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == name {
			out = append(out, e.Reason)
		}
	}
	return out
}

func secretFinalizers(g Gomega, namespace, name string) []string {
	s := &corev1.Secret{}
	g.Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, s)).To(Succeed())
	return s.Finalizers
}

// TestVPSieClusterLifecycle: a cluster with a load balancer and a VPC is provisioned (LB with the right rule
// and no backends, VPC with the CIDR's range, endpoint, failure domains, conditions, finalizers, events);
// deletion waits for the cluster's VPSieMachines, then leaves nothing in VPSie and no finalizer behind.
func TestVPSieClusterLifecycle(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	_, vc := createCluster(t, ns, "alpha", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
	})
	name := scope.ClusterResourceName(testIdentity, ns, "alpha")

	got := waitClusterReady(t, ns, "alpha")

	lbs := sim.LoadBalancersByName(name)
	g.Expect(lbs).To(HaveLen(1))
	lb := lbs[0]
	g.Expect(lb.State).To(Equal(vpsiesim.LBActive))
	g.Expect(lb.PlanIdentifier).To(Equal(vpsiesim.DefaultLBPlan))
	g.Expect(lb.DCIdentifier).To(Equal(vpsiesim.DefaultDatacenter))
	g.Expect(lb.Algorithm).To(Equal("roundrobin"))
	g.Expect(lb.Rules).To(ConsistOf(SatisfyAll(
		HaveField("Scheme", "tcp"), HaveField("FrontPort", 6443), HaveField("BackPort", 6443), HaveField("Backends", BeEmpty()))))
	g.Expect(lb.Tags).To(ContainElements(scope.TagManaged, scope.TagCluster+ns+"/alpha"))
	g.Expect(got.Spec.ControlPlaneEndpoint).To(Equal(clusterv1.APIEndpoint{Host: lb.IP, Port: 6443}))
	g.Expect(got.Status.LoadBalancer).To(Equal(infrav1.LoadBalancerStatus{Identifier: lb.Identifier, Name: name, IP: lb.IP}))

	vpcList := sim.VPCs()
	g.Expect(vpcList).To(HaveLen(1))
	g.Expect(vpcList[0]).To(SatisfyAll(HaveField("Name", name), HaveField("NetworkRange", "10.42.0.0"),
		HaveField("NetworkSize", 16), HaveField("DCIdentifier", vpsiesim.DefaultDatacenter)))
	g.Expect(got.Status.Network).To(Equal(infrav1.NetworkStatus{VPCID: strconv.Itoa(vpcList[0].ID), VPCName: name, CIDR: "10.42.0.0/16"}))

	g.Expect(got.Status.FailureDomains).To(Equal([]clusterv1.FailureDomain{{Name: vpsiesim.DefaultDatacenter, ControlPlane: ptr.To(true)}}))
	g.Expect(condition(got, infrav1.CredentialsReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.CredentialsValidReason))
	g.Expect(condition(got, infrav1.NetworkReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.ProvisionedReason))
	g.Expect(condition(got, infrav1.LoadBalancerReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.ProvisionedReason))
	g.Expect(condition(got, infrav1.PausedCondition).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(got.Finalizers).To(ContainElement(infrav1.ClusterFinalizer))
	g.Expect(secretFinalizers(g, ns, "creds")).To(ContainElement(infrav1.CredentialsFinalizer))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "alpha") }, eventually, poll).
		Should(ContainElements("LoadBalancerCreated", "VPCCreated", "Provisioned"))
	g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(Equal(1))
	g.Expect(sim.RequestCount("POST /apps/v2/vpc/add")).To(Equal(1))

	// A VPSieMachine of the cluster holds the deletion back.
	machine := &infrav1.VPSieMachine{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "alpha-cp-0", Labels: map[string]string{clusterv1.ClusterNameLabel: "alpha"}},
		Spec:       infrav1.VPSieMachineSpec{Plan: vpsiesim.DefaultPlan, Image: vpsiesim.DefaultImage},
	}
	g.Expect(k8s.Create(ctx, machine)).To(Succeed())
	g.Expect(k8s.Delete(ctx, vc)).To(Succeed())
	g.Eventually(func(g Gomega) {
		c := condition(getVPSieCluster(g, ns, "alpha"), infrav1.LoadBalancerReadyCondition)
		g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.WaitingForMachineDeletionReason))
		g.Expect(c.Message).To(ContainSubstring("waiting for 1 VPSieMachine"))
	}, eventually, poll).Should(Succeed())
	g.Expect(sim.LoadBalancers()).To(HaveLen(1))

	g.Expect(k8s.Delete(ctx, machine)).To(Succeed())
	waitDeleted(t, vc)
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
	g.Expect(sim.VPCs()).To(BeEmpty())
	g.Expect(secretFinalizers(g, ns, "creds")).NotTo(ContainElement(infrav1.CredentialsFinalizer))
	g.Eventually(func(g Gomega) []string { return eventReasons(g, ns, "alpha") }, eventually, poll).
		Should(ContainElements("LoadBalancerDeleted", "VPCDeleted"))
}

// TestVPSieClusterWithoutLoadBalancer: with the load balancer disabled the user's endpoint is used, nothing is
// created, and the cluster is ready.
func TestVPSieClusterWithoutLoadBalancer(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	createCluster(t, ns, "beta", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.ControlPlaneLoadBalancer = infrav1.LoadBalancerSpec{Enabled: ptr.To(false)}
		vc.Spec.ControlPlaneEndpoint = clusterv1.APIEndpoint{Host: "api.example.com", Port: 443}
	})

	got := waitClusterReady(t, ns, "beta")
	g.Expect(got.Spec.ControlPlaneEndpoint).To(Equal(clusterv1.APIEndpoint{Host: "api.example.com", Port: 443}))
	g.Expect(condition(got, infrav1.LoadBalancerReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.DisabledReason))
	g.Expect(condition(got, infrav1.NetworkReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.DisabledReason))
	g.Expect(got.Status.LoadBalancer).To(BeZero())
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
	g.Expect(sim.VPCs()).To(BeEmpty())
	g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(BeZero())
}

// TestVPSieClusterUsesExistingVPC: spec.network.vpc.id adopts the user's VPC, and deleting the cluster never
// deletes it.
func TestVPSieClusterUsesExistingVPC(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	api := simClient(t, sim)
	g.Expect(api.CreateVPC(ctx, vpsie.CreateVPCRequest{Name: "shared", DcIdentifier: vpsiesim.DefaultDatacenter,
		NetworkRange: "10.50.0.0", NetworkSize: "24"})).To(Succeed())
	g.Expect(sim.VPCs()).To(HaveLen(1))
	id := strconv.Itoa(sim.VPCs()[0].ID)

	createCredentialsSecret(t, ns, "creds", nil)
	_, vc := createCluster(t, ns, "gamma", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.Network.VPC.ID = id
	})
	got := waitClusterReady(t, ns, "gamma")
	g.Expect(got.Status.Network).To(Equal(infrav1.NetworkStatus{VPCID: id, VPCName: "shared", CIDR: "10.50.0.0/24"}), "the range VPSie reports")
	g.Expect(condition(got, infrav1.NetworkReadyCondition)).To(haveCondition(metav1.ConditionTrue, infrav1.ProvisionedReason))
	g.Expect(sim.RequestCount("POST /apps/v2/vpc/add")).To(Equal(1)) // the test's own

	g.Expect(k8s.Delete(ctx, vc)).To(Succeed())
	waitDeleted(t, vc)
	g.Expect(sim.VPCs()).To(ConsistOf(HaveField("Name", "shared")))
	g.Expect(sim.RequestCount("DELETE /apps/v2/vpc/{id}")).To(BeZero())
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
}

// TestVPSieClusterDefaultLoadBalancerPlan: without a plan, the load balancer gets the datacenter's first offer.
func TestVPSieClusterDefaultLoadBalancerPlan(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	createCluster(t, ns, "epsilon", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.ControlPlaneLoadBalancer.Plan = ""
	})
	waitClusterReady(t, ns, "epsilon")
	g.Expect(sim.LoadBalancers()).To(ConsistOf(HaveField("PlanIdentifier", vpsiesim.DefaultLBPlan)))
}

// TestVPSieClusterNamedVPC: a VPC the provider creates may carry the user's name; it is found and deleted by it.
func TestVPSieClusterNamedVPC(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	_, vc := createCluster(t, ns, "delta", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.Network.VPC = infrav1.VPCSpec{CIDR: "10.60.0.0/16", Name: "team-a-network"}
	})
	got := waitClusterReady(t, ns, "delta")
	g.Expect(got.Status.Network.VPCName).To(Equal("team-a-network"))
	g.Expect(sim.VPCs()).To(ConsistOf(SatisfyAll(HaveField("Name", "team-a-network"), HaveField("NetworkRange", "10.60.0.0"))))

	g.Expect(k8s.Delete(ctx, vc)).To(Succeed())
	waitDeleted(t, vc)
	g.Expect(sim.VPCs()).To(BeEmpty())
}

// TestVPSieClusterAdoptsAfterLostCreate: a load balancer and VPC that exist under the cluster's names are
// adopted instead of created again — whether status was lost (e.g. clusterctl move) or the create's answer
// was lost on the way back (the gateway failed after VPSie did the work).
func TestVPSieClusterAdoptsAfterLostCreate(t *testing.T) {
	t.Run("status lost", func(t *testing.T) {
		g := NewWithT(t)
		ctx := context.Background()
		ns := newTestNamespace(t)
		sim := startSimulator(t, ns)
		api := simClient(t, sim)
		name := scope.ClusterResourceName(testIdentity, ns, "delta")
		g.Expect(api.CreateVPC(ctx, vpsie.CreateVPCRequest{Name: name, DcIdentifier: vpsiesim.DefaultDatacenter,
			NetworkRange: "10.42.0.0", NetworkSize: "16"})).To(Succeed())
		g.Expect(api.CreateLoadBalancer(ctx, vpsie.CreateLoadBalancerRequest{Name: name, Algorithm: "roundrobin",
			ResourceIdentifier: vpsiesim.DefaultLBPlan, DcIdentifier: vpsiesim.DefaultDatacenter,
			Rules: []vpsie.LBRuleSpec{{Scheme: "tcp", FrontPort: "6443", BackPort: "6443"}}})).To(Succeed())

		createCredentialsSecret(t, ns, "creds", nil)
		createCluster(t, ns, "delta", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
			vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
		})
		got := waitClusterReady(t, ns, "delta")
		g.Expect(sim.LoadBalancers()).To(HaveLen(1))
		g.Expect(sim.VPCs()).To(HaveLen(1))
		g.Expect(got.Status.LoadBalancer.Identifier).To(Equal(sim.LoadBalancers()[0].Identifier))
		g.Expect(got.Status.Network.VPCID).To(Equal(strconv.Itoa(sim.VPCs()[0].ID)))
		g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(Equal(1)) // the test's own
		g.Expect(sim.RequestCount("POST /apps/v2/vpc/add")).To(Equal(1))
	})

	t.Run("create answers lost", func(t *testing.T) {
		g := NewWithT(t)
		ns := newTestNamespace(t)
		sim := startSimulator(t, ns, func(o *vpsiesim.Options) {
			o.Faults = vpsiesim.Faults{HTMLErrorNext: 2, ProcessBeforeFailing: true,
				Routes: []string{"POST /api/v1/lb/create", "POST /apps/v2/vpc/add"}}
		})
		createCredentialsSecret(t, ns, "creds", nil)
		createCluster(t, ns, "epsilon", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
			vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
		})
		waitClusterReady(t, ns, "epsilon")
		g.Expect(sim.Faults().HTMLErrorNext).To(BeZero(), "both create answers were lost")
		g.Expect(sim.LoadBalancers()).To(HaveLen(1))
		g.Expect(sim.VPCs()).To(HaveLen(1))
		g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(Equal(1))
		g.Expect(sim.RequestCount("POST /apps/v2/vpc/add")).To(Equal(1))
	})
}

// TestVPSieClusterPaused: a paused Cluster stops the controller before it touches VPSie (Paused=True, no
// finalizer, no request); unpausing resumes it.
func TestVPSieClusterPaused(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	cluster, _ := createCluster(t, ns, "zeta", "creds", func(c *clusterv1.Cluster, _ *infrav1.VPSieCluster) {
		c.Spec.Paused = ptr.To(true)
	})

	g.Eventually(func(g Gomega) {
		g.Expect(condition(getVPSieCluster(g, ns, "zeta"), infrav1.PausedCondition)).
			To(haveCondition(metav1.ConditionTrue, clusterv1.PausedReason))
	}, eventually, poll).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getVPSieCluster(g, ns, "zeta").Finalizers).To(BeEmpty())
		g.Expect(sim.TotalRequests()).To(BeZero())
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(secretFinalizers(g, ns, "creds")).To(BeEmpty())

	patch := client.MergeFrom(cluster.DeepCopy())
	cluster.Spec.Paused = ptr.To(false)
	g.Expect(k8s.Patch(ctx, cluster, patch)).To(Succeed())
	got := waitClusterReady(t, ns, "zeta")
	g.Expect(condition(got, infrav1.PausedCondition).Status).To(Equal(metav1.ConditionFalse))
}

// TestVPSieClusterExternallyManaged: a VPSieCluster managed by someone else is left alone entirely.
func TestVPSieClusterExternallyManaged(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	createCluster(t, ns, "eta", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Annotations = map[string]string{clusterv1.ManagedByAnnotation: "someone-else"}
	})
	g.Consistently(func(g Gomega) {
		vc := getVPSieCluster(g, ns, "eta")
		g.Expect(vc.Finalizers).To(BeEmpty())
		g.Expect(vc.Status.Conditions).To(BeEmpty())
		g.Expect(sim.TotalRequests()).To(BeZero())
	}, 2*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(secretFinalizers(g, ns, "creds")).To(BeEmpty())
}

// TestVPSieClusterLoadBalancerLost: a load balancer deleted behind the provider's back after the endpoint was
// set is reported, not silently replaced by one with another address.
func TestVPSieClusterLoadBalancerLost(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	createCluster(t, ns, "xi", "creds")
	got := waitClusterReady(t, ns, "xi")

	g.Expect(simClient(t, sim).DeleteLoadBalancer(ctx, got.Status.LoadBalancer.Identifier, "test", "")).To(Succeed())
	annotateCluster(t, ns, "xi", "test.vpsie/touch", "1")
	g.Eventually(func(g Gomega) {
		vc := getVPSieCluster(g, ns, "xi")
		g.Expect(condition(vc, infrav1.LoadBalancerReadyCondition)).
			To(haveCondition(metav1.ConditionFalse, infrav1.LoadBalancerNotFoundReason))
		g.Expect(condition(vc, infrav1.ReadyCondition).Status).To(Equal(metav1.ConditionFalse))
		g.Expect(vc.Spec.ControlPlaneEndpoint.Host).To(Equal(got.Spec.ControlPlaneEndpoint.Host))
	}, eventually, poll).Should(Succeed())
	g.Expect(sim.LoadBalancers()).To(BeEmpty())
	g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(Equal(1))
}

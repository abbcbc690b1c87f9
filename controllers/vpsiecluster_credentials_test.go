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
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// updateSecret replaces a Secret's data.
func updateSecret(t *testing.T, namespace, name string, data map[string]string) {
	t.Helper()
	g := NewWithT(t)
	s := &corev1.Secret{}
	g.Expect(k8s.Get(context.Background(), types.NamespacedName{Namespace: namespace, Name: name}, s)).To(Succeed())
	s.Data = nil
	s.StringData = data
	g.Expect(k8s.Update(context.Background(), s)).To(Succeed())
}

// annotateCluster sets an annotation on a VPSieCluster (which also makes the controller look at it again).
func annotateCluster(t *testing.T, namespace, name, key, value string) {
	t.Helper()
	g := NewWithT(t)
	vc := getVPSieCluster(g, namespace, name)
	patch := client.MergeFrom(vc.DeepCopy())
	if vc.Annotations == nil {
		vc.Annotations = map[string]string{}
	}
	vc.Annotations[key] = value
	g.Expect(k8s.Patch(context.Background(), vc, patch)).To(Succeed())
}

func waitCredentialsCondition(t *testing.T, namespace, name string, status metav1.ConditionStatus, reason, messagePart string) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		vc := getVPSieCluster(g, namespace, name)
		c := condition(vc, infrav1.CredentialsReadyCondition)
		g.Expect(c).To(haveCondition(status, reason))
		g.Expect(c.Message).To(ContainSubstring(messagePart))
		if status == metav1.ConditionFalse {
			g.Expect(condition(vc, infrav1.ReadyCondition).Status).To(Equal(metav1.ConditionFalse))
		}
	}, eventually, poll).Should(Succeed())
}

// TestVPSieClusterCredentials: a missing Secret, then a malformed one, then a valid one, then credentials
// rotated in VPSie and in the Secret: each state shows on CredentialsReady, and each Secret change takes
// effect at the next read of the Secret (CredentialsRecheck), without a restart and without calling VPSie with
// unusable credentials.
func TestVPSieClusterCredentials(t *testing.T) {
	g := NewWithT(t)
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCluster(t, ns, "theta", "creds")

	waitCredentialsCondition(t, ns, "theta", metav1.ConditionFalse, infrav1.CredentialsNotFoundReason, "creds")
	g.Expect(sim.TotalRequests()).To(BeZero())

	createCredentialsSecret(t, ns, "creds", map[string]string{scope.SecretKeyAPIKey: testToken})
	waitCredentialsCondition(t, ns, "theta", metav1.ConditionFalse, infrav1.CredentialsInvalidReason, "accountPassword")
	g.Expect(sim.TotalRequests()).To(BeZero())

	updateSecret(t, ns, "creds", map[string]string{scope.SecretKeyAPIKey: testToken, scope.SecretKeyAccountPassword: testPassword})
	waitClusterReady(t, ns, "theta")
	g.Expect(secretFinalizers(g, ns, "creds")).To(ContainElement(infrav1.CredentialsFinalizer))

	// VPSie rotates the token: the old one is refused.
	sim.SetCredentials(vpsiesim.Credentials{Tokens: []string{"rotated-token"}, AccountPassword: testPassword})
	annotateCluster(t, ns, "theta", "test.vpsie/touch", "1")
	waitCredentialsCondition(t, ns, "theta", metav1.ConditionFalse, infrav1.CredentialsInvalidReason, "refused")

	// The user puts the new token into the Secret: the controller builds a new client and recovers.
	updateSecret(t, ns, "creds", map[string]string{scope.SecretKeyAPIKey: "rotated-token", scope.SecretKeyAccountPassword: testPassword})
	waitCredentialsCondition(t, ns, "theta", metav1.ConditionTrue, infrav1.CredentialsValidReason, "creds")
	waitClusterReady(t, ns, "theta")
	g.Expect(sim.LoadBalancers()).To(HaveLen(1))
}

// TestVPSieClusterDeletionWithBrokenCredentials: deletion cannot clean up VPSie with refused credentials, says
// how to get out, and the skip-cleanup annotation lets the VPSieCluster go (and releases the Secret).
func TestVPSieClusterDeletionWithBrokenCredentials(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	sim := startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	_, vc := createCluster(t, ns, "iota", "creds")
	waitClusterReady(t, ns, "iota")

	sim.SetCredentials(vpsiesim.Credentials{Tokens: []string{"someone-else"}, AccountPassword: testPassword})
	g.Expect(k8s.Delete(ctx, vc)).To(Succeed())
	waitCredentialsCondition(t, ns, "iota", metav1.ConditionFalse, infrav1.CredentialsInvalidReason, infrav1.SkipCloudCleanupAnnotation)
	g.Consistently(func(g Gomega) []string { return getVPSieCluster(g, ns, "iota").Finalizers }, time.Second, 200*time.Millisecond).
		Should(ContainElement(infrav1.ClusterFinalizer))

	annotateCluster(t, ns, "iota", infrav1.SkipCloudCleanupAnnotation, "true")
	waitDeleted(t, vc)
	g.Expect(secretFinalizers(g, ns, "creds")).NotTo(ContainElement(infrav1.CredentialsFinalizer))
	g.Expect(sim.LoadBalancers()).To(HaveLen(1), "skipping cleanup leaves the load balancer for the user")
}

// TestVPSieClusterSharedSecret: a Secret used by two clusters keeps its finalizer until the last one is gone.
func TestVPSieClusterSharedSecret(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds", nil)
	noLB := func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) {
		vc.Spec.ControlPlaneLoadBalancer = infrav1.LoadBalancerSpec{Enabled: ptr.To(false)}
		vc.Spec.ControlPlaneEndpoint = clusterv1.APIEndpoint{Host: "10.0.0.1", Port: 6443}
	}
	_, first := createCluster(t, ns, "kappa", "creds", noLB)
	_, second := createCluster(t, ns, "lambda", "creds", noLB)
	waitClusterReady(t, ns, "kappa")
	waitClusterReady(t, ns, "lambda")

	g.Expect(k8s.Delete(ctx, first)).To(Succeed())
	waitDeleted(t, first)
	g.Expect(secretFinalizers(g, ns, "creds")).To(ContainElement(infrav1.CredentialsFinalizer))
	g.Expect(k8s.Delete(ctx, second)).To(Succeed())
	waitDeleted(t, second)
	g.Expect(secretFinalizers(g, ns, "creds")).NotTo(ContainElement(infrav1.CredentialsFinalizer))
}

// credentialsRecheck is the tests' CredentialsRecheck: a fixed Secret is taken within it (there is no watch).
const credentialsRecheck = 300 * time.Millisecond

// TestVPSieClusterSwitchesSecret: a cluster pointed at a Secret that does not exist may be pointed at the right
// one (nothing was made with the first); the finalizer goes to the new Secret and never stays on the old one.
// Once VPSie was reached, the webhook refuses another Secret, which may belong to another account.
func TestVPSieClusterSwitchesSecret(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newTestNamespace(t)
	startSimulator(t, ns)
	createCredentialsSecret(t, ns, "creds-typo", map[string]string{scope.SecretKeyAPIKey: "wrong"})
	createCredentialsSecret(t, ns, "creds", nil)
	createCredentialsSecret(t, ns, "creds-2", nil)
	createCluster(t, ns, "nu", "creds-typo")
	waitCredentialsCondition(t, ns, "nu", metav1.ConditionFalse, infrav1.CredentialsInvalidReason, "accountPassword")
	g.Expect(secretFinalizers(g, ns, "creds-typo")).To(ContainElement(infrav1.CredentialsFinalizer))

	vc := getVPSieCluster(g, ns, "nu")
	patch := client.MergeFrom(vc.DeepCopy())
	vc.Spec.CredentialsRef.Name = "creds"
	g.Expect(k8s.Patch(ctx, vc, patch)).To(Succeed())
	waitClusterReady(t, ns, "nu")
	g.Expect(secretFinalizers(g, ns, "creds")).To(ContainElement(infrav1.CredentialsFinalizer))
	g.Expect(secretFinalizers(g, ns, "creds-typo")).NotTo(ContainElement(infrav1.CredentialsFinalizer))
	g.Expect(getVPSieCluster(g, ns, "nu").Annotations).To(HaveKeyWithValue(infrav1.ProtectedCredentialsAnnotation, "creds"))

	vc = getVPSieCluster(g, ns, "nu")
	patch = client.MergeFrom(vc.DeepCopy())
	vc.Spec.CredentialsRef.Name = "creds-2"
	err := k8s.Patch(ctx, vc, patch)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(And(ContainSubstring("spec.credentialsRef.name"), ContainSubstring(`into Secret "creds"`)))
	g.Expect(getVPSieCluster(g, ns, "nu").Spec.CredentialsRef.Name).To(Equal("creds"))
	g.Expect(secretFinalizers(g, ns, "creds-2")).To(BeEmpty())
}

// TestVPSieClusterTerminalErrors: requests VPSie refuses as invalid end in an InvalidSpec condition a human can
// act on, and the controller does not retry them in a loop.
func TestVPSieClusterTerminalErrors(t *testing.T) {
	cases := []struct {
		name      string
		mutate    func(*infrav1.VPSieCluster)
		condition string
		message   string
	}{
		{"unknown datacenter", func(vc *infrav1.VPSieCluster) {
			vc.Spec.Datacenter = "dc-does-not-exist"
			vc.Spec.Network.VPC.CIDR = "10.42.0.0/16"
		}, infrav1.NetworkReadyCondition, "datacenter"},
		{"unknown datacenter for the load balancer", func(vc *infrav1.VPSieCluster) {
			vc.Spec.Datacenter = "dc-does-not-exist"
		}, infrav1.LoadBalancerReadyCondition, "datacenter"},
		{"unknown load balancer plan", func(vc *infrav1.VPSieCluster) {
			vc.Spec.ControlPlaneLoadBalancer.Plan = "no-such-plan"
		}, infrav1.LoadBalancerReadyCondition, "plan"},
		{"no load balancer plan offered in the datacenter", func(vc *infrav1.VPSieCluster) {
			vc.Spec.ControlPlaneLoadBalancer.Plan = ""
			vc.Spec.Datacenter = "dc000000-0000-4000-8000-000000000005" // the simulator's Singapore 1: no LBs
		}, infrav1.LoadBalancerReadyCondition, "VPSie offers no load balancer plan in datacenter"},
		{"VPC id that does not exist", func(vc *infrav1.VPSieCluster) {
			vc.Spec.Network.VPC.ID = "99999"
		}, infrav1.NetworkReadyCondition, "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := NewWithT(t)
			ns := newTestNamespace(t)
			sim := startSimulator(t, ns)
			createCredentialsSecret(t, ns, "creds", nil)
			createCluster(t, ns, "mu", "creds", func(_ *clusterv1.Cluster, vc *infrav1.VPSieCluster) { tc.mutate(vc) })

			g.Eventually(func(g Gomega) {
				vc := getVPSieCluster(g, ns, "mu")
				c := condition(vc, tc.condition)
				g.Expect(c).To(haveCondition(metav1.ConditionFalse, infrav1.InvalidSpecReason))
				g.Expect(c.Message).To(ContainSubstring(tc.message))
				g.Expect(condition(vc, infrav1.ReadyCondition).Status).To(Equal(metav1.ConditionFalse))
				g.Expect(vc.Status.Initialization.Provisioned).To(BeNil())
			}, eventually, poll).Should(Succeed())

			time.Sleep(time.Second) // let the reconcile triggered by the status patch finish
			before := sim.TotalRequests()
			time.Sleep(3 * time.Second)
			g.Expect(sim.TotalRequests()-before).To(BeNumerically("<=", 2), "requests: %v", sim.Requests())
			// At most one attempt per event of the setup (finalizer added, Secret finalizer added, status written).
			g.Expect(sim.RequestCount("POST /api/v1/lb/create")).To(BeNumerically("<=", 3), "requests: %v", sim.Requests())
			g.Expect(sim.RequestCount("POST /apps/v2/vpc/add")).To(BeNumerically("<=", 3), "requests: %v", sim.Requests())
		})
	}
}

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

// Package scope gathers what one reconcile of a VPSieCluster or VPSieMachine works on: the Kubernetes objects,
// the VPSie account of the cluster's credentials, and a patch helper that writes everything back once at the
// end. Services take a scope and never touch other Kubernetes objects.
package scope

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	kerrors "k8s.io/apimachinery/pkg/util/errors"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
)

// ClusterScopeParams are the inputs of NewClusterScope.
type ClusterScopeParams struct {
	Client       client.Client
	Cluster      *clusterv1.Cluster
	VPSieCluster *infrav1.VPSieCluster
	// Account is the VPSie account of the cluster's credentials; nil when they could not be read (a
	// deletion that skips cloud cleanup still works without one).
	Account *Account
	// Manager is the identity of the running manager (--management-cluster-id).
	Manager string
}

// ClusterScope is one reconcile of a VPSieCluster.
type ClusterScope struct {
	Client       client.Client
	Cluster      *clusterv1.Cluster
	VPSieCluster *infrav1.VPSieCluster
	Account      *Account
	// Manager is the identity of the running manager; see Identity for the cluster's own.
	Manager string

	patchHelper *patch.Helper
}

// NewClusterScope snapshots the VPSieCluster for a patch at Close.
func NewClusterScope(p ClusterScopeParams) (*ClusterScope, error) {
	if p.Client == nil || p.Cluster == nil || p.VPSieCluster == nil {
		return nil, errors.New("cluster scope needs a client, a Cluster and a VPSieCluster")
	}
	helper, err := patch.NewHelper(p.VPSieCluster, p.Client)
	if err != nil {
		return nil, fmt.Errorf("building patch helper: %w", err)
	}
	return &ClusterScope{Client: p.Client, Cluster: p.Cluster, VPSieCluster: p.VPSieCluster, Account: p.Account,
		Manager: p.Manager, patchHelper: helper}, nil
}

// Name is the Cluster's name.
func (s *ClusterScope) Name() string { return s.Cluster.Name }

// Namespace is the Cluster's namespace.
func (s *ClusterScope) Namespace() string { return s.Cluster.Namespace }

// ResourceName is the name of the cluster's load balancer and VPC in VPSie. See ClusterResourceName.
func (s *ClusterScope) ResourceName() string {
	return ClusterResourceName(s.Identity(), s.Namespace(), s.Name())
}

// Identity is the management-cluster identity recorded on the VPSieCluster (infrav1.OwnerIdentityAnnotation).
func (s *ClusterScope) Identity() string {
	return s.VPSieCluster.Annotations[infrav1.OwnerIdentityAnnotation]
}

// VPCName is the name of the VPC the provider creates for the cluster: the user's, or ResourceName.
func (s *ClusterScope) VPCName() string {
	if n := s.VPSieCluster.Spec.Network.VPC.Name; n != "" {
		return n
	}
	return s.ResourceName()
}

// Datacenter is the cluster's datacenter.
func (s *ClusterScope) Datacenter() string { return s.VPSieCluster.Spec.Datacenter }

// Tags are the tags of the cluster's VPSie resources: the ownership tags, then the cluster's own.
func (s *ClusterScope) Tags() []string {
	return append(OwnershipTags(s.Identity(), s.Manager, s.Namespace(), s.Name()), s.VPSieCluster.Spec.Tags...)
}

// OwnerMark is what the cluster's VPCs carry in their description, VPSie taking no tags on VPCs: the
// ownership tags, space-separated.
func (s *ClusterScope) OwnerMark() string {
	return strings.Join(OwnershipTags(s.Identity(), s.Manager, s.Namespace(), s.Name()), " ")
}

var notNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// ClusterResourceName is "capvpsie-<namespace>-<cluster>-<hash>": namespace and name made lower-case DNS-label
// characters and cut so the whole fits in 63 characters, then 8 hex characters of a hash of the
// management-cluster identity and namespace/name. VPSie answers the creation of a load balancer or VPC with no
// identifier, so the cluster's resources are found again by this name after any crash or clusterctl move: it
// depends on nothing but the recorded identity, namespace and name, and two Clusters never share it, of one
// management cluster or of two on one account.
func ClusterResourceName(identity, namespace, cluster string) string {
	return clusterResourceName(identity, namespace, cluster, 63)
}

// FirewallGroupNameMax is the longest firewall group name VPSie takes.
const FirewallGroupNameMax = 50

// FirewallName is the name of the cluster's firewall group (FirewallGroupName).
func (s *ClusterScope) FirewallName() string {
	return FirewallGroupName(s.Identity(), s.Namespace(), s.Name())
}

// FirewallGroupName is the name of a cluster's firewall group: ClusterResourceName cut to the 50 characters
// VPSie allows a group name, the hash kept.
func FirewallGroupName(identity, namespace, cluster string) string {
	return clusterResourceName(identity, namespace, cluster, FirewallGroupNameMax)
}

func clusterResourceName(identity, namespace, cluster string, maxLen int) string {
	suffix := nameHash(identity, namespace, cluster)
	base := strings.Trim(notNameChars.ReplaceAllString(strings.ToLower(namespace+"-"+cluster), "-"), "-")
	maxBase := maxLen - len("capvpsie-") - 1 - 8
	if len(base) > maxBase {
		base = strings.TrimRight(base[:maxBase], "-")
	}
	if base == "" {
		return "capvpsie-" + suffix
	}
	return "capvpsie-" + base + "-" + suffix
}

// clusterConditions are the VPSieCluster conditions this provider owns, summarised into Ready.
var clusterConditions = []string{
	infrav1.CredentialsReadyCondition,
	infrav1.NetworkReadyCondition,
	infrav1.LoadBalancerReadyCondition,
	infrav1.FirewallReadyCondition,
}

// Close computes Ready from the other conditions and patches the VPSieCluster.
func (s *ClusterScope) Close(ctx context.Context) error {
	return patchWithSummary(ctx, s.patchHelper, s.VPSieCluster, clusterConditions)
}

// PatchNow writes the VPSieCluster (status included) at once and returns when the API server has confirmed
// it; Close later writes only what changed after. Used for what must be durable before a cloud call: a
// create intent.
func (s *ClusterScope) PatchNow(ctx context.Context) error {
	helper, err := patchNow(ctx, s.Client, s.patchHelper, s.VPSieCluster, clusterConditions)
	if err != nil {
		return err
	}
	s.patchHelper = helper
	return nil
}

// patchNow patches obj and returns a helper whose starting point is what was just written.
func patchNow(ctx context.Context, c client.Client, h *patch.Helper, obj interface {
	client.Object
	conditions.Setter
}, owned []string,
) (*patch.Helper, error) {
	// No Ready summary here: the reconcile may not have set the conditions it summarises yet; Close does.
	ownedWithReady := append([]string{infrav1.ReadyCondition, infrav1.PausedCondition}, owned...)
	if err := h.Patch(ctx, obj, patch.WithOwnedConditions{Conditions: ownedWithReady}); err != nil {
		return nil, err
	}
	helper, err := patch.NewHelper(obj, c)
	if err != nil {
		return nil, fmt.Errorf("building patch helper: %w", err)
	}
	return helper, nil
}

// patchWithSummary sets Ready from the given conditions (ignoring the ones not set yet) and patches obj,
// owning exactly those conditions so concurrent writers of others are not overwritten.
func patchWithSummary(ctx context.Context, h *patch.Helper, obj interface {
	client.Object
	conditions.Setter
}, owned []string,
) error {
	var errs []error
	if err := conditions.SetSummaryCondition(obj, obj, infrav1.ReadyCondition,
		conditions.ForConditionTypes(owned), conditions.IgnoreTypesIfMissing(owned)); err != nil {
		errs = append(errs, err)
	}
	ownedWithReady := append([]string{infrav1.ReadyCondition, infrav1.PausedCondition}, owned...)
	if err := h.Patch(ctx, obj, patch.WithOwnedConditions{Conditions: ownedWithReady}); err != nil {
		errs = append(errs, err)
	}
	return kerrors.NewAggregate(errs)
}

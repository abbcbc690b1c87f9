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

package v1alpha1

import (
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
)

// Condition types shared by the provider's kinds. Ready and Paused follow
// Cluster API's v1beta2 conventions; Ready is mirrored by CAPI into the owning
// Cluster's or Machine's InfrastructureReady condition.
const (
	// ReadyCondition summarises whether the object's cloud resources are usable.
	ReadyCondition = clusterv1.ReadyCondition
	// PausedCondition is True while reconciliation is paused by the Cluster or the object.
	PausedCondition = clusterv1.PausedCondition
)

// Condition types and reasons of VPSieCluster.
const (
	// CredentialsReadyCondition reports whether the credentials Secret is present, well formed and accepted by VPSie.
	CredentialsReadyCondition = "CredentialsReady"
	// LoadBalancerReadyCondition reports the control-plane load balancer.
	LoadBalancerReadyCondition = "LoadBalancerReady"
	// NetworkReadyCondition reports the cluster's VPC.
	NetworkReadyCondition = "NetworkReady"
	// FirewallReadyCondition reports the cluster's firewall group: it exists with the rules the spec asks for
	// and is attached to the cluster's servers.
	FirewallReadyCondition = "FirewallReady"
)

// Condition types of VPSieMachine.
const (
	// ServerReadyCondition reports the VPSie server backing the machine.
	ServerReadyCondition = "ServerReady"
	// LoadBalancerBackendCondition reports whether a control-plane machine is a backend of the cluster's load balancer.
	LoadBalancerBackendCondition = "LoadBalancerBackend"
)

// Reasons used on the provider's conditions. Each wait state has its own reason
// so `kubectl describe` tells what an object waits for.
const (
	// ProvisionedReason: the cloud resource exists and is usable.
	ProvisionedReason = "Provisioned"
	// DisabledReason: the resource is not wanted by the spec (e.g. no load balancer).
	DisabledReason = "Disabled"
	// CredentialsNotFoundReason: the Secret named by credentialsRef does not exist.
	CredentialsNotFoundReason = "CredentialsNotFound"
	// CredentialsInvalidReason: the Secret lacks the keys the provider needs, or VPSie refused them.
	CredentialsInvalidReason = "CredentialsInvalid"
	// WaitingForClusterInfrastructureReason: the machine waits for its VPSieCluster to be provisioned.
	WaitingForClusterInfrastructureReason = "WaitingForClusterInfrastructure"
	// WaitingForBootstrapDataReason: the machine waits for the bootstrap provider's data Secret.
	WaitingForBootstrapDataReason = "WaitingForBootstrapData"
	// WaitingForControlPlaneEndpointReason: the load balancer exists but has no address yet.
	WaitingForControlPlaneEndpointReason = "WaitingForControlPlaneEndpoint"
	// PendingReason: VPSie accepted the create call and queues the resource.
	PendingReason = "Pending"
	// WaitingForVPCReason: the server is up and is joining the cluster's VPC.
	WaitingForVPCReason = "WaitingForVPC"
	// WaitingForFirewallReason: the server is up and its firewall groups are being attached, or the cluster's
	// firewall group does not exist yet.
	WaitingForFirewallReason = "WaitingForFirewall"
	// BootingReason: the server exists but is not up with an address yet.
	BootingReason = "Booting"
	// ServerStoppedReason: the server exists but is powered off, suspended or locked.
	ServerStoppedReason = "ServerStopped"
	// ServerNotFoundReason: the server recorded in spec.providerID no longer exists in VPSie.
	ServerNotFoundReason = "ServerNotFound"
	// LoadBalancerNotFoundReason: the control-plane load balancer recorded in status no longer exists in VPSie,
	// after the cluster's endpoint was set from it. The provider does not create another: its address would
	// differ from the endpoint, which cannot change.
	LoadBalancerNotFoundReason = "LoadBalancerNotFound"
	// CredentialsValidReason: the credentials Secret is well formed and VPSie accepts it.
	CredentialsValidReason = "CredentialsValid"
	// WaitingForMachineDeletionReason: a deleting cluster waits for its machines to be gone before deleting the
	// load balancer, firewall group and VPC.
	WaitingForMachineDeletionReason = "WaitingForMachineDeletion"
	// InvalidSpecReason: VPSie refused the request as invalid (unknown plan, image or datacenter,
	// quota exceeded, ...). Retrying does not help until the spec or the account changes.
	InvalidSpecReason = "InvalidSpec"
	// UserDataTooLargeReason (ServerReady): the bootstrap data, extra cloud-init and SSH keys together are
	// over the user data limit even compressed; no server is created.
	UserDataTooLargeReason = "UserDataTooLarge"
	// RateLimitedReason: VPSie's rate limit was hit; the controller waits as told.
	RateLimitedReason = "RateLimited"
	// TransientErrorReason: a network or server error; the controller retries with backoff.
	TransientErrorReason = "TransientError"
	// DeletingReason: the cloud resource is being deleted.
	DeletingReason = "Deleting"
	// DeletionSkippedReason: cloud cleanup was skipped on request (see SkipCloudCleanupAnnotation).
	DeletionSkippedReason = "DeletionSkipped"
)

const (
	// ClusterFinalizer keeps a VPSieCluster until its load balancer, firewall group and VPC are deleted.
	ClusterFinalizer = "infrastructure.cluster.x-k8s.io/vpsiecluster"
	// MachineFinalizer keeps a VPSieMachine until its server is deleted.
	MachineFinalizer = "infrastructure.cluster.x-k8s.io/vpsiemachine"
	// CredentialsFinalizer keeps a credentials Secret while a VPSieCluster still needs it.
	CredentialsFinalizer = "infrastructure.cluster.x-k8s.io/vpsie-credentials"

	// SkipCloudCleanupAnnotation, set to "true" on a VPSieCluster or VPSieMachine, lets it be
	// deleted without deleting its cloud resources — the way out when credentials are gone
	// for good. Whatever the object owned in VPSie is then left for the user to remove.
	SkipCloudCleanupAnnotation = "infrastructure.cluster.x-k8s.io/vpsie-skip-cloud-cleanup"

	// OwnerIdentityAnnotation holds, on a VPSieCluster, the identity of the management cluster that created
	// its VPSie resources (the UID of its kube-system namespace unless the manager's --management-cluster-id
	// says otherwise). The provider records it at the first reconcile, before it creates anything; it is part
	// of every resource name and ownership tag of the cluster, so two management clusters sharing a VPSie
	// account never adopt or delete each other's resources. It moves with the object under clusterctl move
	// and cannot be changed or removed once set (webhook): the names depend on it.
	OwnerIdentityAnnotation = "infrastructure.cluster.x-k8s.io/vpsie-owner-identity"

	// ProtectedCredentialsAnnotation names, on a VPSieCluster, the credentials Secret the provider puts
	// CredentialsFinalizer on for it. It is written before the finalizer, so that the finalizer is removed
	// again when the cluster is pointed at another Secret or deleted, without listing Secrets.
	ProtectedCredentialsAnnotation = "infrastructure.cluster.x-k8s.io/vpsie-protected-credentials"
)

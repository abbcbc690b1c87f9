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

// The objects a user (or clusterctl generate cluster) would apply, and the waits the scenarios share.

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// ClusterOptions shape a test cluster.
type ClusterOptions struct {
	// LoadBalancer enables the control-plane load balancer; without it the control-plane endpoint is the
	// local API server's address.
	LoadBalancer bool
	// VPCCIDR, when set, has the provider create a VPC of that range.
	VPCCIDR string
	// ClientCredentials puts the simulator's client id and secret in the credentials Secret instead of the
	// static API token: the provider logs in and its access tokens expire (SimTokenLifetime).
	ClientCredentials bool
}

// Cluster is a created test cluster.
type Cluster struct {
	Namespace, Name string
	Cluster         *clusterv1.Cluster
	// BootstrapSecret holds the cloud-config every Machine uses (no bootstrap provider is needed).
	BootstrapSecret string
}

// CreateNamespace creates a namespace named after prefix.
func (h *Harness) CreateNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := h.Client.Create(ctx, ns); err != nil {
		return "", err
	}
	return ns.Name, nil
}

// CreateCluster creates a Cluster, its VPSieCluster, credentials and bootstrap-data Secrets, and the
// `<cluster>-kubeconfig` Secret reaching the workload cluster (the local API server), as a control-plane
// provider would write it.
func (h *Harness) CreateCluster(ctx context.Context, namespace, name string, opts ClusterOptions) (*Cluster, error) {
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-vpsie-credentials"},
		StringData: map[string]string{scope.SecretKeyAPIKey: SimToken, scope.SecretKeyAccountPassword: SimPassword},
	}
	if opts.ClientCredentials {
		creds.StringData = map[string]string{
			scope.SecretKeyClientID: SimClientID, scope.SecretKeyClientSecret: SimClientSecret,
			scope.SecretKeyAccountPassword: SimPassword,
		}
	}
	bootstrap := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-bootstrap",
			Labels: map[string]string{clusterv1.ClusterNameLabel: name}},
		StringData: map[string]string{"value": bootstrapData, "format": "cloud-config"},
	}
	vc := &infrav1.VPSieCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: infrav1.VPSieClusterSpec{
			CredentialsRef:           infrav1.SecretReference{Name: creds.Name},
			Datacenter:               vpsiesim.DefaultDatacenter,
			ControlPlaneLoadBalancer: infrav1.LoadBalancerSpec{Enabled: ptr.To(opts.LoadBalancer)},
		},
	}
	if opts.LoadBalancer {
		vc.Spec.ControlPlaneLoadBalancer.Plan = vpsiesim.DefaultLBPlan
	} else {
		u, err := url.Parse(h.Env.Config.Host)
		if err != nil {
			return nil, err
		}
		port, _ := strconv.Atoi(u.Port())
		vc.Spec.ControlPlaneEndpoint = clusterv1.APIEndpoint{Host: u.Hostname(), Port: int32(port)}
	}
	if opts.VPCCIDR != "" {
		vc.Spec.Network.VPC = infrav1.VPCSpec{CIDR: opts.VPCCIDR}
	}
	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: clusterv1.ClusterSpec{
			InfrastructureRef: clusterv1.ContractVersionedObjectReference{
				APIGroup: infrav1.GroupVersion.Group, Kind: "VPSieCluster", Name: name,
			},
		},
	}
	for _, obj := range []client.Object{creds, bootstrap, vc, cluster} {
		if err := h.Client.Create(ctx, obj); err != nil {
			return nil, fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	if err := h.Client.Create(ctx, kubeconfig.GenerateSecret(cluster, kubeconfig.FromEnvTestConfig(h.Env.Config, cluster))); err != nil {
		return nil, fmt.Errorf("creating the kubeconfig Secret: %w", err)
	}
	return &Cluster{Namespace: namespace, Name: name, Cluster: cluster, BootstrapSecret: bootstrap.Name}, nil
}

// MarkControlPlaneInitialized reports the workload cluster's control plane as initialized, for clusters with
// no control-plane Machines: their control plane is the local API server, which exists outside Cluster API,
// and no control-plane provider is there to say so. (Cluster API infers it, for clusters without a
// controlPlaneRef, from a control-plane Machine with a Node; until it is True, the Machine controller does not
// watch the workload cluster's Nodes.) The condition, once True, is never reset by Cluster API.
func (h *Harness) MarkControlPlaneInitialized(ctx context.Context, c *Cluster) error {
	return Poll(ctx, timeoutShort, func(ctx context.Context) (bool, string, error) {
		cur := &clusterv1.Cluster{}
		if err := h.Client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Name}, cur); err != nil {
			return false, err.Error(), nil
		}
		if conditions.IsTrue(cur, clusterv1.ClusterControlPlaneInitializedCondition) {
			return true, "", nil
		}
		patch := client.MergeFrom(cur.DeepCopy())
		conditions.Set(cur, metav1.Condition{
			Type: clusterv1.ClusterControlPlaneInitializedCondition, Status: metav1.ConditionTrue,
			Reason: clusterv1.ClusterControlPlaneInitializedReason, Message: "the e2e harness's local API server",
		})
		cur.Status.Initialization.ControlPlaneInitialized = ptr.To(true)
		if err := h.Client.Status().Patch(ctx, cur, patch); err != nil {
			return false, err.Error(), nil
		}
		return false, "not observed yet", nil
	})
}

// CreateMachineDeployment creates a VPSieMachineTemplate and a MachineDeployment of replicas Machines
// using the cluster's bootstrap Secret. annotations go on the MachineDeployment (e.g. autoscaler bounds);
// with nil replicas the webhook defaults them.
func (h *Harness) CreateMachineDeployment(ctx context.Context, c *Cluster, name string, replicas *int32, annotations map[string]string) (*clusterv1.MachineDeployment, error) {
	tmpl := &infrav1.VPSieMachineTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: name}}
	tmpl.Spec.Template.Spec.Plan = vpsiesim.DefaultPlan
	tmpl.Spec.Template.Spec.Image = vpsiesim.DefaultImage
	if err := h.Client.Create(ctx, tmpl); err != nil {
		return nil, fmt.Errorf("creating the VPSieMachineTemplate: %w", err)
	}
	md := machineDeployment(c, name, replicas, annotations, clusterv1.Bootstrap{DataSecretName: ptr.To(c.BootstrapSecret)})
	if err := h.Client.Create(ctx, md); err != nil {
		return nil, fmt.Errorf("creating the MachineDeployment: %w", err)
	}
	return md, nil
}

// machineDeployment is a MachineDeployment of the cluster on the VPSieMachineTemplate of its name.
func machineDeployment(c *Cluster, name string, replicas *int32, annotations map[string]string, bootstrap clusterv1.Bootstrap) *clusterv1.MachineDeployment {
	return &clusterv1.MachineDeployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: name, Annotations: annotations},
		Spec: clusterv1.MachineDeploymentSpec{
			ClusterName: c.Name,
			Replicas:    replicas,
			Template: clusterv1.MachineTemplateSpec{Spec: clusterv1.MachineSpec{
				ClusterName: c.Name,
				Bootstrap:   bootstrap,
				InfrastructureRef: clusterv1.ContractVersionedObjectReference{
					APIGroup: infrav1.GroupVersion.Group, Kind: "VPSieMachineTemplate", Name: name,
				},
			}},
		},
	}
}

// ScaleMachineDeployment sets a MachineDeployment's replicas.
func (h *Harness) ScaleMachineDeployment(ctx context.Context, md *clusterv1.MachineDeployment, replicas int32) error {
	cur := &clusterv1.MachineDeployment{}
	if err := h.Client.Get(ctx, client.ObjectKeyFromObject(md), cur); err != nil {
		return err
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Replicas = ptr.To(replicas)
	return h.Client.Patch(ctx, cur, patch)
}

// Machines are the Machines of a MachineDeployment (all of the cluster's when md is empty), by name.
func (h *Harness) Machines(ctx context.Context, c *Cluster, md string) ([]clusterv1.Machine, error) {
	labels := client.MatchingLabels{clusterv1.ClusterNameLabel: c.Name}
	if md != "" {
		labels[clusterv1.MachineDeploymentNameLabel] = md
	}
	list := &clusterv1.MachineList{}
	if err := h.Client.List(ctx, list, client.InNamespace(c.Namespace), labels); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items, nil
}

// MachinesSummary is a one-line description of machines: how many in each phase, and how many have Nodes.
func MachinesSummary(machines []clusterv1.Machine) string {
	phases := map[string]int{}
	withNode := 0
	for _, m := range machines {
		phase := m.Status.Phase
		if phase == "" {
			phase = "New"
		}
		if !m.DeletionTimestamp.IsZero() {
			phase = "Deleting"
		}
		phases[phase]++
		if m.Status.NodeRef.IsDefined() {
			withNode++
		}
	}
	keys := make([]string, 0, len(phases))
	for k := range phases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, phases[k]))
	}
	return fmt.Sprintf("%d machines (%s), %d with nodeRef", len(machines), strings.Join(parts, " "), withNode)
}

// WaitMachinesRunning waits until the MachineDeployment md has exactly n Machines, none deleting, all
// Running with a nodeRef, and the simulator holds exactly n live servers for the cluster (those of
// other MachineDeployments or control-plane Machines are counted in when md is empty).
func (h *Harness) WaitMachinesRunning(ctx context.Context, c *Cluster, md string, n int) ([]clusterv1.Machine, error) {
	return h.WaitMachinesRunningWithin(ctx, c, md, n, timeoutLong)
}

// WaitMachinesRunningWithin is WaitMachinesRunning with its own timeout (the benchmark's scales take longer).
func (h *Harness) WaitMachinesRunningWithin(ctx context.Context, c *Cluster, md string, n int, timeout time.Duration) ([]clusterv1.Machine, error) {
	var machines []clusterv1.Machine
	err := Poll(ctx, timeout, func(ctx context.Context) (bool, string, error) {
		var err error
		if machines, err = h.Machines(ctx, c, md); err != nil {
			return false, err.Error(), nil
		}
		why := MachinesSummary(machines)
		if len(machines) != n {
			return false, why, nil
		}
		for _, m := range machines {
			if !m.DeletionTimestamp.IsZero() || m.Status.Phase != string(clusterv1.MachinePhaseRunning) || !m.Status.NodeRef.IsDefined() {
				return false, why, nil
			}
		}
		if md == "" {
			if vms := len(h.ClusterVMs(c.Namespace, c.Name)); vms != n {
				return false, fmt.Sprintf("%s; %d servers", why, vms), nil
			}
		}
		return true, "", nil
	})
	return machines, err
}

// DeleteCluster deletes the Cluster and waits until it and everything it owned are gone: Cluster API's and
// the provider's objects, and then whatever the garbage collector must collect (Orphans).
func (h *Harness) DeleteCluster(ctx context.Context, c *Cluster) error {
	if err := h.Client.Delete(ctx, &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name}}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := Poll(ctx, timeoutLong, func(ctx context.Context) (bool, string, error) {
		left, err := h.Leftovers(ctx, c.Namespace)
		if err != nil {
			return false, err.Error(), nil
		}
		return len(left) == 0, strings.Join(left, ", "), nil
	}); err != nil {
		return err
	}
	return Poll(ctx, timeoutShort, func(ctx context.Context) (bool, string, error) {
		orphans, err := h.Orphans(ctx, c.Namespace)
		if err != nil {
			return false, err.Error(), nil
		}
		return len(orphans) == 0, "orphaned objects: " + strings.Join(orphans, ", "), nil
	})
}

// Leftovers names the Cluster API and provider objects still in namespace (stuck finalizers show here).
func (h *Harness) Leftovers(ctx context.Context, namespace string) ([]string, error) {
	var left []string
	for _, list := range []client.ObjectList{
		&clusterv1.ClusterList{}, &clusterv1.MachineDeploymentList{}, &clusterv1.MachineSetList{},
		&clusterv1.MachineList{}, &infrav1.VPSieClusterList{}, &infrav1.VPSieMachineList{},
	} {
		if err := h.Client.List(ctx, list, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			o, err := meta.Accessor(item)
			if err != nil {
				return nil, err
			}
			left = append(left, fmt.Sprintf("%T %s (finalizers %v)", item, o.GetName(), o.GetFinalizers()))
		}
	}
	return left, nil
}

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
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	bootstrapv1 "sigs.k8s.io/cluster-api/api/bootstrap/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/secret"
	"sigs.k8s.io/controller-runtime/pkg/client"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/test/vpsiesim"
)

// flavorKubeadmConfigTemplate is the KubeadmConfigTemplate of templates/cluster-template.yaml rendered for
// cluster as clusterctl renders it (its variable processor), renamed name.
func (h *Harness) flavorKubeadmConfigTemplate(cluster, namespace, name string) (*unstructured.Unstructured, error) {
	objs, err := h.renderFlavor(cluster, namespace, "cluster-template.yaml")
	if err != nil {
		return nil, err
	}
	for i := range objs {
		if objs[i].GetKind() == "KubeadmConfigTemplate" {
			objs[i].SetName(name)
			return &objs[i], nil
		}
	}
	return nil, fmt.Errorf("templates/cluster-template.yaml holds no KubeadmConfigTemplate")
}

// createClusterCA writes the `<cluster>-ca` Secret a control-plane provider writes, with a CA made for the
// cluster the way Cluster API makes one: the kubeadm bootstrap provider needs it (certificate and key) to
// render joins. No kubeadm runs here, so it need not be the local API server's CA.
func (h *Harness) createClusterCA(ctx context.Context, cluster *clusterv1.Cluster) error {
	certificates := secret.NewCertificatesForWorker("")
	if err := certificates.Generate(); err != nil {
		return fmt.Errorf("generating the cluster CA: %w", err)
	}
	kp := certificates.GetByPurpose(secret.ClusterCA).KeyPair
	ca := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: cluster.Namespace, Name: secret.Name(cluster.Name, secret.ClusterCA),
			Labels: map[string]string{clusterv1.ClusterNameLabel: cluster.Name}},
		Type: clusterv1.ClusterSecretType,
		Data: map[string][]byte{secret.TLSCrtDataName: kp.Cert, secret.TLSKeyDataName: kp.Key},
	}
	return h.Client.Create(ctx, ca)
}

// AdditionalCloudInit is the extra cloud-init of the kubeadm pools' VPSieMachineTemplate: the provider sends
// it as a second MIME part after what the bootstrap provider rendered.
const AdditionalCloudInit = "#cloud-config\nruncmd:\n- echo extra cloud-init of the e2e suite\n"

// CreateKubeadmMachineDeployment creates a worker pool bootstrapped by the kubeadm bootstrap provider from the
// default flavor's KubeadmConfigTemplate, on a VPSieMachineTemplate with AdditionalCloudInit.
func (h *Harness) CreateKubeadmMachineDeployment(ctx context.Context, c *Cluster, name string, replicas int32) (*clusterv1.MachineDeployment, error) {
	if err := h.createClusterCA(ctx, c.Cluster); err != nil {
		return nil, fmt.Errorf("creating the cluster CA Secret: %w", err)
	}
	kct, err := h.flavorKubeadmConfigTemplate(c.Name, c.Namespace, name)
	if err != nil {
		return nil, err
	}
	if err := h.Client.Create(ctx, kct); err != nil {
		return nil, fmt.Errorf("creating the KubeadmConfigTemplate: %w", err)
	}
	tmpl := &infrav1.VPSieMachineTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: name}}
	tmpl.Spec.Template.Spec.Plan = vpsiesim.DefaultPlan
	tmpl.Spec.Template.Spec.Image = vpsiesim.DefaultImage
	tmpl.Spec.Template.Spec.AdditionalCloudInit = AdditionalCloudInit
	if err := h.Client.Create(ctx, tmpl); err != nil {
		return nil, fmt.Errorf("creating the VPSieMachineTemplate: %w", err)
	}
	md := machineDeployment(c, name, ptr.To(replicas), nil, clusterv1.Bootstrap{ConfigRef: clusterv1.ContractVersionedObjectReference{
		APIGroup: bootstrapv1.GroupVersion.Group, Kind: "KubeadmConfigTemplate", Name: name,
	}})
	// As the flavor's MachineDeployment: kubeadm's configuration depends on the version.
	md.Spec.Template.Spec.Version = flavorVariables["KUBERNETES_VERSION"]
	if err := h.Client.Create(ctx, md); err != nil {
		return nil, fmt.Errorf("creating the MachineDeployment: %w", err)
	}
	return md, nil
}

// hasJoinConfiguration tells whether rendered kubeadm bootstrap data carries the join configuration (kubeadm
// join --config with the file it writes).
func hasJoinConfiguration(bootstrap string) bool {
	return strings.Contains(bootstrap, "kind: JoinConfiguration") && strings.Contains(bootstrap, "kubeadm join")
}

// labelKubeadmCRDs gives the CRDs of the kubeadm bootstrap and control-plane providers the contract labels their
// releases' kustomizations add (the module's config/crd/bases lack them): Cluster API reads a referenced
// object's contract version from them, and without them no MachineSet of a kubeadm pool gets a Machine.
func (h *Harness) labelKubeadmCRDs(ctx context.Context) error {
	for _, name := range []string{
		"kubeadmconfigs.bootstrap.cluster.x-k8s.io", "kubeadmconfigtemplates.bootstrap.cluster.x-k8s.io",
		"kubeadmcontrolplanes.controlplane.cluster.x-k8s.io", "kubeadmcontrolplanetemplates.controlplane.cluster.x-k8s.io",
	} {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := h.Client.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return err
		}
		patch := client.MergeFrom(crd.DeepCopy())
		labels := crd.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels["cluster.x-k8s.io/v1beta1"] = "v1beta1"
		labels["cluster.x-k8s.io/v1beta2"] = "v1beta2"
		crd.SetLabels(labels)
		if err := h.Client.Patch(ctx, crd, patch); err != nil {
			return fmt.Errorf("labelling CRD %s: %w", name, err)
		}
	}
	return nil
}

// WaitBootstrapData waits until n Machines of the cluster have the bootstrap data CABPK rendered; on timeout
// the error says what each KubeadmConfig reports.
func (h *Harness) WaitBootstrapData(ctx context.Context, c *Cluster, n int) error {
	return Poll(ctx, timeoutShort, func(ctx context.Context) (bool, string, error) {
		machines := &clusterv1.MachineList{}
		if err := h.Client.List(ctx, machines, client.InNamespace(c.Namespace),
			client.MatchingLabels{clusterv1.ClusterNameLabel: c.Name}); err != nil {
			return false, err.Error(), nil
		}
		ready := 0
		for _, m := range machines.Items {
			if m.Spec.Bootstrap.DataSecretName != nil {
				ready++
			}
		}
		if ready >= n {
			return true, "", nil
		}
		configs := &bootstrapv1.KubeadmConfigList{}
		if err := h.Client.List(ctx, configs, client.InNamespace(c.Namespace)); err != nil {
			return false, err.Error(), nil
		}
		var says []string
		for _, kc := range configs.Items {
			for _, cond := range kc.Status.Conditions {
				if cond.Status != metav1.ConditionTrue {
					says = append(says, fmt.Sprintf("%s: %s=%s %s: %s", kc.Name, cond.Type, cond.Status, cond.Reason, cond.Message))
				}
			}
		}
		return false, fmt.Sprintf("%d of %d Machines have bootstrap data; KubeadmConfigs: %s", ready, n, strings.Join(says, "; ")), nil
	})
}

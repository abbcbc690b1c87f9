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

// Package webhooks holds the defaulting and validating admission webhooks of the provider's kinds. Messages
// name the field and say what to do: they are what a user sees when kubectl apply fails.
package webhooks

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/cluster-api/util/topology"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	infrav1 "github.com/vpsieinc/cluster-api-provider-vpsie/api/v1alpha1"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/cloudinit"
)

// SetupWithManager registers every webhook of the provider with the manager's webhook server.
func SetupWithManager(mgr ctrl.Manager) error {
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieCluster{}).
		WithDefaulter(VPSieCluster{}).WithValidator(VPSieCluster{}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieClusterTemplate{}).
		WithDefaulter(VPSieClusterTemplate{}).WithValidator(VPSieClusterTemplate{}).Complete(); err != nil {
		return err
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieMachine{}).
		WithDefaulter(VPSieMachine{}).WithValidator(VPSieMachine{}).Complete(); err != nil {
		return err
	}
	return ctrl.NewWebhookManagedBy(mgr, &infrav1.VPSieMachineTemplate{}).
		WithDefaulter(VPSieMachineTemplate{}).WithValidator(VPSieMachineTemplate{}).Complete()
}

func groupKind(kind string) schema.GroupKind {
	return schema.GroupKind{Group: infrav1.GroupVersion.Group, Kind: kind}
}

// invalid turns a field error list into the API's Invalid status error, or nil.
func invalid(kind string, obj client.Object, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(groupKind(kind), obj.GetName(), errs)
}

// isTopologyDryRun tells whether Cluster API's topology controller is dry-running a server-side apply,
// during which template immutability must not be enforced (the contract's "support for SSA dry run").
func isTopologyDryRun(ctx context.Context, obj client.Object) (bool, error) {
	req, err := admission.RequestFromContext(ctx)
	if err != nil {
		return false, apierrors.NewBadRequest("admission request missing from context")
	}
	return topology.IsDryRunRequest(req, obj), nil
}

// immutable reports a change between old and new at path.
func immutable(path *field.Path, oldValue, newValue any) field.ErrorList {
	if equality.Semantic.DeepEqual(oldValue, newValue) {
		return nil
	}
	return field.ErrorList{field.Forbidden(path, "field is immutable")}
}

// ratchet drops from newErrs the errors oldErrs already has: an object stored before a rule existed (or a
// rule got stricter) must still take the updates that have nothing to do with it, above all the removal of
// the controller's finalizer, or it could never be deleted. The CRD's own rules ratchet the same way in the
// API server. An error of a changed field reads differently and is still reported.
func ratchet(oldErrs, newErrs field.ErrorList) field.ErrorList {
	if len(oldErrs) == 0 {
		return newErrs
	}
	had := make(map[string]bool, len(oldErrs))
	for _, e := range oldErrs {
		had[e.Error()] = true
	}
	var errs field.ErrorList
	for _, e := range newErrs {
		if !had[e.Error()] {
			errs = append(errs, e)
		}
	}
	return errs
}

// validateAdditionalCloudInit checks what cloud-init would otherwise refuse on the server, where nobody sees it:
// a node that boots without its extra configuration, or none that joins.
func validateAdditionalCloudInit(path *field.Path, data string) field.ErrorList {
	if data == "" {
		return nil
	}
	if err := cloudinit.Validate([]byte(data)); err != nil {
		return field.ErrorList{field.Invalid(path, firstLine(data), err.Error())}
	}
	cloudConfig := strings.HasPrefix(data, "#cloud-config")
	if line, r, ok := firstControlCharacter(data, cloudConfig); ok {
		return field.ErrorList{field.Invalid(path, firstLine(data), fmt.Sprintf("line %d holds the control "+
			"character %U: user data is text; write it as an escape (e.g. \\e or \\033 in a script, \"\\e\" in YAML)",
			line, r))}
	}
	if !cloudConfig {
		return nil
	}
	// Strict: a key given twice (two runcmd: lists) silently drops the first one in cloud-init.
	var doc any
	if err := yaml.UnmarshalStrict([]byte(data), &doc); err != nil {
		return field.ErrorList{field.Invalid(path, firstLine(data), fmt.Sprintf("a #cloud-config document must be "+
			"valid YAML: %s (lines count from the #cloud-config line; indent with spaces, not tabs; quote values "+
			"holding \": \" or \" #\")", yamlError(err)))}
	}
	switch doc.(type) {
	case nil, map[string]any:
		return nil
	default:
		return field.ErrorList{field.Invalid(path, firstLine(data), fmt.Sprintf("a #cloud-config document must be a "+
			"YAML mapping of cloud-init modules such as packages:, write_files: or runcmd:, not a %s", yamlKind(doc)))}
	}
}

// firstControlCharacter finds the first character user data should not hold: NUL in any document (cloud-init
// reads user data as text), and in a #cloud-config document every control character but tab, line feed and
// carriage return, which YAML refuses without saying where.
func firstControlCharacter(data string, cloudConfig bool) (line int, char rune, found bool) {
	line = 1
	for _, r := range data {
		switch {
		case r == '\n':
			line++
		case r == 0, cloudConfig && r != '\t' && r != '\r' && (r < 0x20 || r == 0x7f):
			return line, r, true
		}
	}
	return 0, 0, false
}

// yamlError is the YAML parser's message on one line, without the prefixes that say nothing to a user.
func yamlError(err error) string {
	msg := strings.Join(strings.Fields(err.Error()), " ")
	for _, prefix := range []string{"error converting YAML to JSON: ", "yaml: ", "unmarshal errors: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	return msg
}

// yamlKind names what a YAML document is when it is not a mapping.
func yamlKind(doc any) string {
	switch doc.(type) {
	case []any:
		return "list (#cloud-config-archive is not supported: write one #cloud-config mapping)"
	case string:
		return "string"
	default:
		return "scalar"
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

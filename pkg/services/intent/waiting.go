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

package intent

import (
	"context"
	"fmt"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Waiting is what a reconciler tells the user while an outcome other than Found keeps it waiting for what (e.g.
// "the VPC capvpsie-ns-c-1a2b3c4d"), one wording for every resource; for an Uncertain outcome whose create call
// failed it also logs the failure, since the resource may exist all the same.
func (o Outcome) Waiting(ctx context.Context, what string) string {
	switch o.Phase {
	case InQueue:
		return "VPSie is creating " + what
	case Uncertain:
		if o.Err != nil {
			ctrl.LoggerFrom(ctx).Info("Create call failed; it may have been made all the same, looking for it before any new create",
				"resource", what, "error", o.Err.Error())
		}
		return fmt.Sprintf("the outcome of the create of %s at %s is unknown (its answer was lost, or the controller "+
			"restarted); looking for it before creating it again", what, o.Since.UTC().Format(time.RFC3339))
	default:
		return "VPSie accepted " + what + "; waiting for it to be listed"
	}
}

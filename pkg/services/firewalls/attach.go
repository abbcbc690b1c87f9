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

package firewalls

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/services"
	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/vpsie"
)

// DefaultAttachSpacing is how long after an attach to a server the next attach to the same server waits.
// VPSie fails two attaches to one server close together inside the API (ipSetNotCreated); Terraform's
// provider serialises them for that reason.
const DefaultAttachSpacing = 3 * time.Second

// Attacher attaches firewall groups to a new server, one group per call and spaced out per server. It reads
// each group's live attachments (never a cached list). One Attacher serves a whole controller; the zero value is
// ready.
type Attacher struct {
	// Spacing; DefaultAttachSpacing when zero.
	Spacing time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	last map[string]time.Time // account, server -> when this process last sent an attach to it
}

// Ensure attaches every group of groups (identifiers) to the server vmIdentifier. It returns done once all are
// attached; otherwise it has sent at most one attach (then returned the group in sent) or waits for the spacing.
// A group that does not exist is a terminal error naming it.
func (a *Attacher) Ensure(ctx context.Context, account *scope.Account, vmIdentifier string, groups []string) (done bool, sent string, err error) {
	for _, id := range groups {
		g, err := account.API.GetFirewallGroup(ctx, id)
		switch {
		case vpsie.IsNotFound(err):
			return false, "", fmt.Errorf("%w: the firewall group %s does not exist in the VPSie account", services.ErrTerminal, id)
		case err != nil:
			return false, "", fmt.Errorf("reading firewall group %s: %w", id, err)
		case attached(g, vmIdentifier):
			continue
		}
		key := account.Key + "\x00" + vmIdentifier
		if !a.claim(key) {
			return false, "", nil
		}
		err = account.API.AttachFirewallGroup(ctx, vmIdentifier, id)
		switch {
		case err == nil:
			return false, id, nil
		case vpsie.IsTransient(err):
			// E.g. ipSetNotCreated: the attach collided with another one; the spacing passes before the next.
			return false, "", nil
		}
		return false, "", fmt.Errorf("attaching firewall group %s to server %s: %w", id, vmIdentifier, err)
	}
	return true, "", nil
}

// Wait is how soon a server waiting for its next attach should look again.
func (a *Attacher) Wait() time.Duration { return services.OrDefault(a.Spacing, DefaultAttachSpacing) }

// claim records an attach to the server now, unless one was sent within the spacing.
func (a *Attacher) claim(key string) bool {
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if at, ok := a.last[key]; ok && now.Sub(at) < a.Wait() {
		return false
	}
	if a.last == nil {
		a.last = map[string]time.Time{}
	}
	for k, at := range a.last { // keep the map small: old entries no longer space anything
		if now.Sub(at) > time.Hour {
			delete(a.last, k)
		}
	}
	a.last[key] = now
	return true
}

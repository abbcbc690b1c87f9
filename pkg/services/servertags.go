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

package services

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/vpsieinc/cluster-api-provider-vpsie/pkg/scope"
)

// ServerTags reads servers' tags, for every part of the manager that needs them: the machine controller
// before it adopts, deletes or claims a server, and the orphan sweep. VPSie's VM list carries no tags and GetVM
// does, at one request per server, so what was read is kept per account and server: tags change only through
// the provider's own claims, which update the copy (Set). A caller about to act on tags that may have changed
// since (the orphan sweep, before it deletes) reads them again. The zero value is ready to use; it is safe for
// concurrent use.
type ServerTags struct {
	mu   sync.Mutex
	tags map[string][]string // by account key and server identifier
}

func tagsKey(account *scope.Account, id string) string { return account.Key + "/" + id }

// Get returns the server's tags: the copy kept, unless there is none or fresh asks for a new read. A server
// GetVM cannot read (not found included) is forgotten and the error returned.
func (c *ServerTags) Get(ctx context.Context, account *scope.Account, id string, fresh bool) ([]string, error) {
	if !fresh {
		c.mu.Lock()
		tags, ok := c.tags[tagsKey(account, id)]
		c.mu.Unlock()
		if ok {
			return slices.Clone(tags), nil
		}
	}
	details, err := account.API.GetVM(ctx, id)
	if err != nil {
		c.Forget(account, id)
		return nil, err
	}
	tags := make([]string, 0, len(details.Tags))
	for _, t := range details.Tags {
		tags = append(tags, string(t.Name))
	}
	c.Set(account, id, tags)
	return tags, nil
}

// Set records the server's tags, as the provider just made them.
func (c *ServerTags) Set(account *scope.Account, id string, tags []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tags == nil {
		c.tags = map[string][]string{}
	}
	c.tags[tagsKey(account, id)] = slices.Clone(tags)
}

// Forget drops the copy of the server's tags.
func (c *ServerTags) Forget(account *scope.Account, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tags, tagsKey(account, id))
}

// Retain drops the copies of the account's servers for which keep is false (servers no longer listed), so that
// memory follows the servers that exist.
func (c *ServerTags) Retain(account *scope.Account, keep func(id string) bool) {
	prefix := tagsKey(account, "")
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.tags {
		if id, ok := strings.CutPrefix(k, prefix); ok && !keep(id) {
			delete(c.tags, k)
		}
	}
}

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

package scope

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A management-cluster identity tells apart the management clusters that share one VPSie account. Each
// VPSieCluster records the identity of the manager that reconciled it first (infrav1.OwnerIdentityAnnotation);
// the identity is hashed into every name the cluster's resources get and written into their ownership tags
// (TagOwner). A manager whose own identity differs from the recorded one (the cluster was moved to it with
// clusterctl move) adds its own owner tag to what it manages: a claim, so the source's orphan sweep, which
// touches only resources whose one and only owner it is, leaves them alone.

// TagOwner prefixes a management-cluster identity in ownership tags and VPC descriptions.
const TagOwner = "capvpsie-owner:"

var validIdentity = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateIdentity checks that an identity can be part of a tag: 1 to 63 lower-case letters, digits and '-',
// starting and ending with a letter or digit (a namespace UID is).
func ValidateIdentity(id string) error {
	if !validIdentity.MatchString(id) {
		return fmt.Errorf("management-cluster identity %q must be 1 to 63 lower-case letters, digits and '-', "+
			"starting and ending with a letter or digit", id)
	}
	return nil
}

// OwnerTag is the ownership tag of an identity.
func OwnerTag(identity string) string { return TagOwner + identity }

// Owners are the identities named by capvpsie-owner tags among tags (or the words of a description).
func Owners(tags []string) []string {
	var out []string
	for _, t := range tags {
		if id, ok := strings.CutPrefix(strings.TrimSpace(t), TagOwner); ok && id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// ForeignOwners are the identities other than identity that tags name as owners.
func ForeignOwners(tags []string, identity string) []string {
	var out []string
	for _, id := range Owners(tags) {
		if id != identity {
			out = append(out, id)
		}
	}
	return out
}

// BelongsTo tells whether what carries tags may be taken as identity's: it names identity as an owner, or
// names no owner at all (VPSie may not echo tags back in every answer; the identity in the name is the first
// guard, the tag the second).
func BelongsTo(tags []string, identity string) bool {
	owners := Owners(tags)
	return len(owners) == 0 || slices.Contains(owners, identity)
}

// nameHash is 8 hex characters of a hash of the identity and namespace/name: equal names of two namespaces
// or two management clusters hash apart. Without an identity it is the hash of namespace/name alone.
func nameHash(identity, namespace, name string) string {
	key := namespace + "/" + name
	if identity != "" {
		key = identity + "\x00" + key
	}
	return shortHash(key)
}

func shortHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:8]
}

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

package vpsie

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// listPageSize is the page size asked for with offset/limit paging; maxPages bounds a list
// (100,000 objects at our page size) so that a server that keeps sending something new can
// never loop us forever.
const (
	listPageSize = 100
	maxPages     = 1000
)

// getList fetches a list endpoint once (endpoints not known to page).
func getList[T any](ctx context.Context, c *Client, op, path string) ([]T, error) {
	res, err := c.do(ctx, request{op: op, method: http.MethodGet, path: path, idempotent: true})
	if err != nil {
		return nil, err
	}
	items, _, err := decodeList[T](op, res)
	if err != nil {
		return nil, c.fail(asError(err))
	}
	return items, nil
}

// listPaged fetches every page of an offset/limit list and returns the complete list or an
// error — never a silently partial list. Callers decide "no server of this name exists, create
// one" from these lists, so a list that misses objects would make duplicates.
//
// key identifies an item for deduplication (pages may overlap when objects are added or
// removed while paging, or when the server ignores offset); items with an empty key are always
// appended. VPSie's paging is inconsistent, so:
//
//   - When an answer announces a total (> 0), pages are followed, offset += len(page), until
//     that many distinct items are held — also when the server caps its pages below our limit.
//     If the server stops short of its own total (an empty page, a page with nothing new because
//     it ignores offset, or maxPages), the call fails with a Transient "incomplete list" error.
//   - Without a total nothing says how long the list is, so the page shape has to: a page shorter
//     than our limit, or an empty page, ends the list. A server that caps pages below our limit
//     and announces no total cannot be told apart from a list that ends there; that is the best
//     that can be done. A repeated page (nothing new) ends the list only when it was longer than
//     our limit — the server ignored paging and sent everything each time; a repeated page of
//     exactly our limit may hide more objects and fails as incomplete, as does reaching maxPages.
func listPaged[T any](ctx context.Context, c *Client, op, path string, base url.Values, key func(T) string) ([]T, error) {
	var all []T
	seen := map[string]bool{}
	total := 0 // the latest total announced (objects may be created while we page)
	for offset, pages := 0, 1; ; pages++ {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		q.Set("offset", strconv.Itoa(offset))
		q.Set("limit", strconv.Itoa(listPageSize))
		res, err := c.do(ctx, request{op: op, method: http.MethodGet, path: path, query: q, idempotent: true})
		if err != nil {
			return nil, err
		}
		page, pageTotal, err := decodeList[T](op, res)
		if err != nil {
			return nil, c.fail(asError(err))
		}
		if pageTotal > 0 {
			total = pageTotal
		}
		fresh := 0
		for _, item := range page {
			if k := key(item); k != "" {
				if seen[k] {
					continue
				}
				seen[k] = true
			}
			all = append(all, item)
			fresh++
		}
		incomplete := func(why string) error {
			msg := fmt.Sprintf("incomplete list: got %d of total %d: %s", len(all), total, why)
			if total == 0 {
				msg = fmt.Sprintf("incomplete list: got %d, no total announced: %s", len(all), why)
			}
			return c.fail(&Error{Operation: op, HTTPStatus: res.status, Class: ClassTransient, Message: msg})
		}
		if total > 0 {
			switch {
			case len(all) >= total:
				return all, nil
			case len(page) == 0:
				return nil, incomplete(fmt.Sprintf("empty page at offset %d", offset))
			case fresh == 0:
				return nil, incomplete(fmt.Sprintf("page at offset %d brought nothing new (offset ignored?)", offset))
			case pages >= maxPages:
				return nil, incomplete(fmt.Sprintf("stopped after %d pages", pages))
			}
		} else {
			switch {
			case len(page) < listPageSize:
				return all, nil
			case fresh == 0 && len(page) > listPageSize:
				return all, nil
			case fresh == 0:
				return nil, incomplete(fmt.Sprintf("page at offset %d repeated a full page (offset ignored?)", offset))
			case pages >= maxPages:
				return nil, incomplete(fmt.Sprintf("stopped after %d pages", pages))
			}
		}
		offset += len(page)
	}
}

package mototest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// This file reads EC2 query-protocol requests (the form parameters of
// Action=…) for the actions the MirrorProxy serves itself: lists, tag
// specifications, Describe filters and pagination.

// apiError is an EC2 error response.
type apiError struct{ code, msg string }

// xmlTag is one item of an EC2 tagSet.
type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func newID(prefix string) string {
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:17]
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func tagsOf(f url.Values, resourceType string) []xmlTag {
	var tags []xmlTag
	for i := 1; f.Has(fmt.Sprintf("TagSpecification.%d.ResourceType", i)); i++ {
		if f.Get(fmt.Sprintf("TagSpecification.%d.ResourceType", i)) != resourceType {
			continue
		}
		for j := 1; f.Has(fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j)); j++ {
			tags = append(tags, xmlTag{f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Key", i, j)), f.Get(fmt.Sprintf("TagSpecification.%d.Tag.%d.Value", i, j))})
		}
	}
	return tags
}

func list(f url.Values, key string) []string {
	var out []string
	for i := 1; f.Has(fmt.Sprintf("%s.%d", key, i)); i++ {
		out = append(out, f.Get(fmt.Sprintf("%s.%d", key, i)))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// filters returns the request's Filter.N as name → values. With
// IgnoreTagFilters the proxy has already dropped the tag: ones.
func filters(f url.Values) map[string][]string {
	out := map[string][]string{}
	for i := 1; f.Has(fmt.Sprintf("Filter.%d.Name", i)); i++ {
		out[f.Get(fmt.Sprintf("Filter.%d.Name", i))] = list(f, fmt.Sprintf("Filter.%d.Value", i))
	}
	return out
}

// withoutTagFilters renumbers a request's Filter.N without its "tag:"
// filters; ok is false when it had none.
func withoutTagFilters(f url.Values) (url.Values, bool) {
	out := url.Values{}
	for k, v := range f {
		if !strings.HasPrefix(k, "Filter.") {
			out[k] = v
		}
	}
	dropped, n := false, 0
	for i := 1; f.Has(fmt.Sprintf("Filter.%d.Name", i)); i++ {
		name := f.Get(fmt.Sprintf("Filter.%d.Name", i))
		if strings.HasPrefix(name, "tag:") {
			dropped = true
			continue
		}
		n++
		out.Set(fmt.Sprintf("Filter.%d.Name", n), name)
		for j, v := range list(f, fmt.Sprintf("Filter.%d.Value", i)) {
			out.Set(fmt.Sprintf("Filter.%d.Value.%d", n, j+1), v)
		}
	}
	return out, dropped
}

// match reports whether a resource with these tags and fields passes every
// filter; fields maps filter names to the resource's value.
func match(flt map[string][]string, tags []xmlTag, fields map[string]string) bool {
	for name, vals := range flt {
		var have string
		var ok bool
		if k, isTag := strings.CutPrefix(name, "tag:"); isTag {
			for _, t := range tags {
				if t.Key == k {
					have, ok = t.Value, true
				}
			}
		} else {
			have, ok = fields[name]
		}
		if !ok {
			return false
		}
		hit := false
		for _, v := range vals {
			hit = hit || v == have
		}
		if !hit {
			return false
		}
	}
	return true
}

// paramsWithout is the request's parameters, but key, in a canonical form.
func paramsWithout(f url.Values, key string) string {
	c := url.Values{}
	for k, v := range f {
		if k != key {
			c[k] = v
		}
	}
	return c.Encode()
}

// page cuts a Describe answer to PageSize items from the request's
// NextToken, and returns the next token ("" at the end).
func page[T any](items []T, f url.Values, size int) ([]T, string) {
	if size <= 0 {
		return items, ""
	}
	from := atoi(f.Get("NextToken"))
	if from > len(items) {
		from = len(items)
	}
	to := min(from+size, len(items))
	if to == len(items) {
		return items[from:to], ""
	}
	return items[from:to], strconv.Itoa(to)
}

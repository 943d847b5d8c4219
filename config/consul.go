package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/hashicorp/consul/api"
)

// LoadConsulKV reads key from Consul's KV store and decodes its value, a JSON
// document, into v with the same rules as [LoadJSONFile]. The request honours
// ctx. A missing key gives an error that wraps [ErrNotFound].
//
// The client decides where Consul is and how to talk to it. The usual way to
// make one reads the standard variables CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN,
// CONSUL_CACERT, CONSUL_HTTP_SSL and friends:
//
//	client, err := api.NewClient(api.DefaultConfig())
func LoadConsulKV(ctx context.Context, client *api.Client, key string, v any, opts ...JSONOption) error {
	o := newJSONOptions(consulSourceName(key), opts)
	value, _, err := getConsulKey(ctx, client, key, nil)
	if err != nil {
		return &Error{Source: o.name, Err: err}
	}
	return decodeJSON(value, v, o)
}

// getConsulKey reads key. q carries blocking query parameters and may be
// nil. A missing key is ErrNotFound, with the query's metadata.
func getConsulKey(ctx context.Context, client *api.Client, key string, q *api.QueryOptions) ([]byte, *api.QueryMeta, error) {
	if client == nil {
		return nil, nil, errors.New("nil consul client")
	}
	if q == nil {
		q = &api.QueryOptions{}
	}
	pair, meta, err := client.KV().Get(key, q.WithContext(ctx))
	if err != nil {
		return nil, nil, consulError(ctx, err)
	}
	if pair == nil {
		return nil, meta, fmt.Errorf("key %w", ErrNotFound)
	}
	return pair.Value, meta, nil
}

// consulError rewrites the client's errors into something a person can act
// on, keeping the cause for errors.Is.
func consulError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
		return ctxErr
	}
	var se api.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusForbidden, http.StatusUnauthorized:
			return &causeError{msg: fmt.Sprintf("permission denied by consul (HTTP %d: %s)", se.Code, se.Body), err: se}
		default:
			return &causeError{msg: fmt.Sprintf("consul answered HTTP %d: %s", se.Code, se.Body), err: se}
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot reach consul: %w", ue.Err)
	}
	return err
}

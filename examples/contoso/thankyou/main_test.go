package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHandlerPrintsEachThankYou(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	srv := httptest.NewServer(handler(&out))
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/thanks", strings.NewReader(
		`{"customer":"Fourth Coffee","accountId":"a1","amount":19.90,"currency":"EUR","storeId":"oslo-1","totalSpent":19.9}`))
	require.NoError(t, err)
	req.Header.Set("Idempotency-Key", "run-1/thank_you")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "thank you, Fourth Coffee, for your purchase of 19.90 EUR in oslo-1 (total spent 19.9; run run-1/thank_you)\n", out.String())

	resp, err = srv.Client().Post(srv.URL+"/thanks", "application/json", strings.NewReader("not json"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

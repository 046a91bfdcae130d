package mototest_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/dxmon/dxmon/internal/mototest"
)

func TestStartAnswersSTS(t *testing.T) {
	s := mototest.Start(t)
	out, err := sts.NewFromConfig(s.Config(t)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity against %s: %v", s.URL, err)
	}
	if out.Account == nil || *out.Account == "" {
		t.Fatalf("moto returned no account: %+v", out)
	}
}

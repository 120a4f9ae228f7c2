package lab

import (
	"context"
	"errors"
)

func (s *Stack) startNetns(ctx context.Context, cfg StackConfig) error {
	return errors.New("--stack netns is not available yet")
}

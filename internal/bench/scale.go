package bench

import (
	"context"
	"io"

	"github.com/kafka-lite/kafka-lite/internal/report"
)

type scaleConfig struct {
	base  string
	quick bool
	size  int
	reps  int
	prog  *progress
}

func runScale(ctx context.Context, c scaleConfig) ([]report.BenchScaleRow, error) { return nil, nil }

func produceWorker(ctx context.Context, args []string, stdout, stderr io.Writer) int { return 2 }

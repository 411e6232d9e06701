module github.com/statssummary/statssummary/tools/lint

go 1.26

module example.com/go-loader

go 1.21

module example.com/app

go 1.22

require (
	example.com/greet v1.1.0
	example.com/testonly v1.0.0
)

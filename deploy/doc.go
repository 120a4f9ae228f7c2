// Package deploy holds no code: it is the home of the container image recipe (docker/Dockerfile)
// and the Kubernetes manifests (k8s/, rendered with kubectl kustomize). Its tests prove what can be
// proved without a cluster or a Docker engine: every manifest decodes strictly into the
// Kubernetes API types and agrees with the services' defaults, the partition NetworkPolicy in
// chaos/manifests cuts client -> backend and nothing else, and the Dockerfile's go build line
// produces static binaries that run.
package deploy

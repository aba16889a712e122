"""eas-gitops: a declarative GitOps reconciler for Alibaba Cloud PAI-EAS service groups."""

__version__ = "0.1.0"

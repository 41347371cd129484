"""Prints template.yml as CloudFormation deploys it: the AWS::Serverless transform applied by the pinned SAM
translator, offline (no AWS call: CodeUri is replaced by a placeholder S3 object, as `sam deploy` would after
uploading, and no managed policy is looked up by name). The template tests read it to check what SAM generates:
aliases, which ARN each event source invokes, the gradual deployments."""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names managed policies by ARN only, so the translator never needs to look one up."""

    def load(self):
        return {}


def main(path: str) -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(path) as f:
        template = yaml_parse(f.read())
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key.zip"
    json.dump(transform(template, {}, NoManagedPolicies()), sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "template.yml"))

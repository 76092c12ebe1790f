#!/usr/bin/env node
import { main } from "../dist/src/cli/worker-cli.js";

main(process.argv);

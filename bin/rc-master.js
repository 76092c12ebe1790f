#!/usr/bin/env node
import { main } from "../dist/src/cli/master-cli.js";

main(process.argv);

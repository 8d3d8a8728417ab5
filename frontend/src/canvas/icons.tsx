// Palette and node icons: the registry's `icon` name mapped onto lucide icons; an unknown name
// (a type that arrives later) falls back to its category's icon, then to a box.
import {
  Box, Braces, Clock, ClipboardList, Cloud, Code, CreditCard, Database, Funnel, GitBranch, GitFork,
  Globe, Hourglass, Inbox, Mail, Merge, MessageSquare, Network, Pencil, Play, Plug, RefreshCw,
  Repeat, Send, Server, Shuffle, Split, User, Webhook, Workflow, Zap, type LucideIcon,
} from "lucide-react";

const BY_NAME: Record<string, LucideIcon> = {
  globe: Globe, refresh: RefreshCw, mail: Mail, message: MessageSquare, "credit-card": CreditCard,
  user: User, split: Split, switch: GitFork, shuffle: Shuffle, merge: Merge, filter: Funnel,
  repeat: Repeat, hourglass: Hourglass, workflow: Workflow, inbox: Inbox, edit: Pencil, play: Play,
  webhook: Webhook, clock: Clock, form: ClipboardList, code: Code, plug: Plug, database: Database,
  send: Send, zap: Zap, cloud: Cloud, server: Server, braces: Braces, network: Network,
  branch: GitBranch,
};

const BY_CATEGORY: Record<string, LucideIcon> = {
  trigger: Zap, logic: GitBranch, data: Braces, http: Globe, flow: Workflow, connector: Plug,
  provider: Cloud, db: Database, mq: Send, file: Server,
};

export function iconFor(icon: string | undefined, category: string | undefined): LucideIcon {
  return (icon && BY_NAME[icon]) || (category && BY_CATEGORY[category]) || Box;
}
